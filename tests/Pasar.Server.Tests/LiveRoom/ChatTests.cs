using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.SignalR;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.LiveRoom;

public sealed class ChatTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    internal static async Task<string> CreateSessionAsync(HttpClient seller, string title = "Batik clearance")
    {
        var response = await seller.PostAsJsonAsync("/api/live/sessions", new { title }, Ct);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.JsonAsync()).GetProperty("id").GetString()!;
    }

    /// <summary>The code of a hub error: SignalR wraps the message as "… HubException: CODE: detail".</summary>
    internal static string? CodeOf(string message) =>
        System.Text.RegularExpressions.Regex.Match(message, @"HubException: ([A-Z_]{3,}):") is { Success: true } m ? m.Groups[1].Value : null;

    private static void AssertCode(string code, string message) =>
        Assert.True(CodeOf(message) == code, $"expected {code}, got: {message}");

    private static async Task<string> ErrorOfAsync(Func<Task> call)
    {
        var ex = await Assert.ThrowsAsync<HubException>(call);
        return ex.Message;
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Two_viewers_chat_the_owner_deletes_and_mutes(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        using var seller = await app.ClientAsAsync("seller-1", "seller", "Ayu");
        var sessionId = await CreateSessionAsync(seller);
        await using var citra = await RoomClient.ConnectAsync(app, await app.TokenAsync("buyer-1", "buyer", "Citra"));
        await using var dimas = await RoomClient.ConnectAsync(app, await app.TokenAsync("buyer-2", "buyer", "Dimas"), messagePack: true);
        await citra.JoinAsync(sessionId);
        var snapshot = await dimas.JoinAsync(sessionId);
        Assert.Equal(sessionId, snapshot.GetProperty("session").GetProperty("id").GetString());

        await citra.ChatAsync(sessionId, "  Is the scarf cotton?  ");
        var frame = await dimas.NextAsync("chat");
        var message = frame[0];
        Assert.Equal("Is the scarf cotton?", message.GetProperty("text").GetString());
        Assert.Equal("buyer-1", message.GetProperty("userId").GetString());
        Assert.Equal("Citra", message.GetProperty("userName").GetString());
        Assert.Equal(sessionId, message.GetProperty("sessionId").GetString());
        await citra.NextAsync("chat"); // the sender sees it too

        var messageId = message.GetProperty("id").GetString();
        Assert.Equal(HttpStatusCode.NoContent, (await seller.DeleteAsync($"/api/live/sessions/{sessionId}/chat/{messageId}", Ct)).StatusCode);
        Assert.Equal(messageId, (await citra.NextAsync("chatDeleted")).GetProperty("messageId").GetString());
        Assert.Equal(messageId, (await dimas.NextAsync("chatDeleted")).GetProperty("messageId").GetString());
        var history = await (await app.Client.GetAsync($"/api/live/sessions/{sessionId}/chat", Ct)).JsonAsync();
        Assert.Equal(0, history.GetProperty("items").GetArrayLength());

        using var buyer = await app.ClientAsAsync("buyer-2", "buyer");
        await (await buyer.DeleteAsync($"/api/live/sessions/{sessionId}/chat/{messageId}", Ct)).AssertProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        await (await seller.DeleteAsync($"/api/live/sessions/{sessionId}/chat/unknown", Ct)).AssertProblemAsync(HttpStatusCode.NotFound, "MESSAGE_NOT_FOUND");

        var mute = await seller.PostAsJsonAsync($"/api/live/sessions/{sessionId}/mutes", new { userId = "buyer-2", durationSeconds = 600 }, Ct);
        Assert.Equal(HttpStatusCode.Created, mute.StatusCode);
        AssertCode("MUTED", await ErrorOfAsync(() => dimas.ChatAsync(sessionId, "hello?")));
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_second_message_within_a_second_is_rate_limited_even_racing_on_two_connections(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        var sessionId = await CreateSessionAsync(seller);
        var token = await app.TokenAsync("buyer-1", "buyer");
        await using var phone = await RoomClient.ConnectAsync(app, token);
        await using var laptop = await RoomClient.ConnectAsync(app, token);
        await phone.JoinAsync(sessionId);
        await laptop.JoinAsync(sessionId);

        await phone.ChatAsync(sessionId, "first");
        AssertCode("RATE_LIMITED", await ErrorOfAsync(() => phone.ChatAsync(sessionId, "second")));

        await Task.Delay(1100, Ct);
        var race = await Task.WhenAll(Enumerable.Range(0, 10).Select(async i =>
        {
            try
            {
                await (i % 2 == 0 ? phone : laptop).ChatAsync(sessionId, $"race {i}");
                return "OK";
            }
            catch (HubException ex)
            {
                return CodeOf(ex.Message);
            }
        }));
        Assert.Equal(1, race.Count(r => r == "OK"));
        Assert.Equal(9, race.Count(r => r == "RATE_LIMITED"));
    }

    [Fact]
    public async Task Markup_arrives_as_text_and_is_stored_as_sent()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        var sessionId = await CreateSessionAsync(seller);
        await using var sender = await RoomClient.ConnectAsync(app, await app.TokenAsync("buyer-1", "buyer"));
        await using var viewer = await RoomClient.ConnectAsync(app, anonId: "anon-viewer-1");
        await sender.JoinAsync(sessionId);
        await viewer.JoinAsync(sessionId);

        const string markup = "<script>alert('x')</script><img src=x onerror=alert(1)> & \"quotes\"";
        await sender.ChatAsync(sessionId, markup);
        Assert.Equal(markup, (await viewer.NextAsync("chat"))[0].GetProperty("text").GetString());
        var history = await (await app.Client.GetAsync($"/api/live/sessions/{sessionId}/chat", Ct)).JsonAsync();
        Assert.Equal(markup, history.GetProperty("items")[0].GetProperty("text").GetString());
        Assert.Equal(markup, await app.ScalarAsync<string>("SELECT text FROM chat_messages"));
    }

    [Fact]
    public async Task Bad_messages_slow_mode_and_blocked_words_are_refused_with_their_codes()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded, s => s["Pasar:Chat:BlockedWords:0"] = "scamlink");
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        var sessionId = await CreateSessionAsync(seller);
        await using var anonymous = await RoomClient.ConnectAsync(app, anonId: "anon-12345678");
        await using var buyer = await RoomClient.ConnectAsync(app, await app.TokenAsync("buyer-1", "buyer"));
        await anonymous.JoinAsync(sessionId);
        await buyer.JoinAsync(sessionId);

        AssertCode("UNAUTHORIZED", await ErrorOfAsync(() => anonymous.ChatAsync(sessionId, "hi")));
        AssertCode("INVALID_MESSAGE", await ErrorOfAsync(() => buyer.ChatAsync(sessionId, "   ")));
        AssertCode("INVALID_MESSAGE", await ErrorOfAsync(() => buyer.ChatAsync(sessionId, new string('a', 301))));
        AssertCode("INVALID_MESSAGE", await ErrorOfAsync(() => buyer.ChatAsync(sessionId, "bell\u0007")));
        AssertCode("BLOCKED_WORD", await ErrorOfAsync(() => buyer.ChatAsync(sessionId, "visit SCAMLINK now")));

        var settings = await seller.PutAsJsonAsync($"/api/live/sessions/{sessionId}/chat-settings", new { slowModeSeconds = 30, blockedWords = new[] { "cheap knockoff" } }, Ct);
        Assert.Equal(HttpStatusCode.OK, settings.StatusCode);
        AssertCode("BLOCKED_WORD", await ErrorOfAsync(() => buyer.ChatAsync(sessionId, "is this a Cheap Knockoff?")));
        await buyer.ChatAsync(sessionId, "knockoffs are cheap elsewhere"); // not the phrase
        await Task.Delay(1200, Ct);
        Assert.Contains("Slow mode", await ErrorOfAsync(() => buyer.ChatAsync(sessionId, "still here")));

        await (await seller.PutAsJsonAsync($"/api/live/sessions/{sessionId}/chat-settings", new { slowModeSeconds = -1 }, Ct))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "VALIDATION_FAILED");
        Assert.Equal(1L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM chat_messages"));
    }
}
