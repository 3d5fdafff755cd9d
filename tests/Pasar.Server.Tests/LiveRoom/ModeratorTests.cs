using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Pasar.Server.Tests.Engagement;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.LiveRoom;

/// <summary>
/// Moderators of a show (SPEC §14): what the owner, a moderator, a removed moderator and a plain buyer may do,
/// route by route; the mark on a moderator's messages; a removal biting at once. Moderation has no hub method
/// (deleting, muting and settings are HTTP routes); the hub's part is the chat mark and the pushes.
/// </summary>
public sealed class ModeratorTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private enum Actor
    {
        Buyer,
        Removed,
        Moderator,
        Owner,
    }

    /// <summary>A route, and the status each actor gets: allowed ones their success code, the others 403.</summary>
    private sealed record Rule(string Name, Func<HttpClient, Actor, Task<HttpResponseMessage>> Call, HttpStatusCode Owner, HttpStatusCode Moderator)
    {
        public HttpStatusCode Expected(Actor actor) => actor switch
        {
            Actor.Owner => Owner,
            Actor.Moderator => Moderator,
            _ => HttpStatusCode.Forbidden, // a removed moderator is a plain buyer again
        };
    }

    internal static async Task<HttpClient> SignedInAsync(PasarApp app, string userId, string role = "buyer", string? name = null)
    {
        var client = await app.ClientAsAsync(userId, role, name);
        (await client.GetAsync("/api/me/orders", Ct)).EnsureSuccessStatusCode(); // the first request records the user
        return client;
    }

    internal static Task<HttpResponseMessage> AppointAsync(HttpClient owner, string sessionId, string userId) =>
        owner.PutAsync($"/api/live/sessions/{sessionId}/moderators/{Uri.EscapeDataString(userId)}", null, Ct);

    internal static Task<HttpResponseMessage> RemoveAsync(HttpClient owner, string sessionId, string userId) =>
        owner.DeleteAsync($"/api/live/sessions/{sessionId}/moderators/{Uri.EscapeDataString(userId)}", Ct);

    /// <summary>Each chatter says one line; returns the message ids in chatter order, as a watcher saw them.</summary>
    private static async Task<string[]> ChatLinesAsync(PasarApp app, string sessionId, RoomClient watcher, int count)
    {
        var ids = new string[count];
        for (var i = 0; i < count; i++)
        {
            await using var chatter = await RoomClient.ConnectAsync(app, await app.TokenAsync($"chatter-{i}", "buyer", $"Chatter {i}"));
            await chatter.JoinAsync(sessionId);
            await chatter.ChatAsync(sessionId, $"line {i}");
            ids[i] = (await watcher.WaitForAsync("chat", f => f.EnumerateArray().Any(m => m.GetProperty("text").GetString() == $"line {i}")))
                .EnumerateArray().First(m => m.GetProperty("text").GetString() == $"line {i}").GetProperty("id").GetString()!;
        }

        return ids;
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Owner_moderator_removed_moderator_and_buyer_get_what_their_role_allows_route_by_route(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        var (sessionId, owner) = await PollTests.OnAirAsync(app);
        var productId = (await owner.CreateProductAsync(stock: 50)).GetProperty("id").GetString()!;
        await GiveawayTests.FundAsync(app, "seller-1", 1_000);
        using var moderator = await SignedInAsync(app, "mod-1", name: "Mira");
        using var removed = await SignedInAsync(app, "mod-2", name: "Rudi");
        using var buyer = await SignedInAsync(app, "buyer-1", name: "Citra");
        (await SignedInAsync(app, "extra-1")).Dispose();
        Assert.Equal(HttpStatusCode.NoContent, (await AppointAsync(owner, sessionId, "mod-1")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await AppointAsync(owner, sessionId, "mod-2")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await RemoveAsync(owner, sessionId, "mod-2")).StatusCode);

        await using var watcher = await RoomClient.ConnectAsync(app, anonId: "watcher");
        await watcher.JoinAsync(sessionId);
        var messages = await ChatLinesAsync(app, sessionId, watcher, 4); // one per actor, by Actor's number
        string? openPoll = null;
        var session = $"/api/live/sessions/{sessionId}";
        var rules = new List<Rule>
        {
            new("DELETE chat/{messageId}", (c, a) => c.DeleteAsync($"{session}/chat/{messages[(int)a]}", Ct), HttpStatusCode.NoContent, HttpStatusCode.NoContent),
            new("POST mutes", (c, a) => c.PostAsJsonAsync($"{session}/mutes", new { userId = $"chatter-{(int)a}", durationSeconds = 60 }, Ct), HttpStatusCode.Created, HttpStatusCode.Created),
            new("PUT chat-settings", (c, a) => c.PutAsJsonAsync($"{session}/chat-settings", new { slowModeSeconds = (int)a, blockedWords = new[] { $"word{(int)a}" } }, Ct), HttpStatusCode.OK, HttpStatusCode.OK),
            new("POST polls", async (c, a) =>
            {
                if (openPoll is not null)
                {
                    (await owner.PostAsync($"/api/polls/{openPoll}/close", null, Ct)).EnsureSuccessStatusCode();
                }

                var response = await c.PostAsJsonAsync($"{session}/polls", new { question = $"Asked by {a}?", options = new[] { "a", "b" }, durationSeconds = 300 }, Ct);
                openPoll = response.StatusCode == HttpStatusCode.Created ? (await response.JsonAsync()).GetProperty("id").GetString() : null;
                return response;
            }, HttpStatusCode.Created, HttpStatusCode.Created),
            new("POST /api/polls/{id}/close", async (c, a) =>
            {
                openPoll ??= (await PollTests.StartPollAsync(owner, sessionId, options: 2)).GetProperty("id").GetString();
                var response = await c.PostAsync($"/api/polls/{openPoll}/close", null, Ct);
                openPoll = response.StatusCode == HttpStatusCode.OK ? null : openPoll;
                return response;
            }, HttpStatusCode.OK, HttpStatusCode.OK),
            new("POST pins", (c, _) => c.PostAsJsonAsync($"{session}/pins", new { productId }, Ct), HttpStatusCode.OK, HttpStatusCode.Forbidden),
            new("DELETE pins/{productId}", (c, _) => c.DeleteAsync($"{session}/pins/{productId}", Ct), HttpStatusCode.OK, HttpStatusCode.Forbidden),
            new("POST flash-sales", (c, _) => c.PostAsJsonAsync($"{session}/flash-sales", new { productId, salePriceMinor = 500, quantity = 5, durationSeconds = 60 }, Ct), HttpStatusCode.Created, HttpStatusCode.Forbidden),
            new("POST giveaways", (c, _) => c.PostAsJsonAsync($"{session}/giveaways", new { prizeCoins = 10, winners = 1, durationSeconds = 60 }, Ct), HttpStatusCode.Created, HttpStatusCode.Forbidden),
            new("POST stream-key/rotate", (c, _) => c.PostAsync($"{session}/stream-key/rotate", null, Ct), HttpStatusCode.OK, HttpStatusCode.Forbidden),
            new("GET stats", (c, _) => c.GetAsync($"{session}/stats", Ct), HttpStatusCode.OK, HttpStatusCode.Forbidden),
            new("GET moderators", (c, _) => c.GetAsync($"{session}/moderators", Ct), HttpStatusCode.OK, HttpStatusCode.Forbidden),
            new("PUT moderators/{userId}", (c, _) => c.PutAsync($"{session}/moderators/extra-1", null, Ct), HttpStatusCode.NoContent, HttpStatusCode.Forbidden),
            new("DELETE moderators/{userId}", (c, _) => c.DeleteAsync($"{session}/moderators/extra-1", Ct), HttpStatusCode.NoContent, HttpStatusCode.Forbidden),
            new("POST end", (c, _) => c.PostAsync($"{session}/end", null, Ct), HttpStatusCode.OK, HttpStatusCode.Forbidden), // last: it ends the show
        };

        var clients = new Dictionary<Actor, HttpClient> { [Actor.Buyer] = buyer, [Actor.Removed] = removed, [Actor.Moderator] = moderator, [Actor.Owner] = owner };
        var wrong = new List<string>();
        foreach (var rule in rules)
        {
            foreach (var actor in new[] { Actor.Buyer, Actor.Removed, Actor.Moderator, Actor.Owner })
            {
                using var response = await rule.Call(clients[actor], actor);
                var expected = rule.Expected(actor);
                if (response.StatusCode != expected)
                {
                    wrong.Add($"{rule.Name} as {actor}: expected {(int)expected}, got {(int)response.StatusCode} {await response.Content.ReadAsStringAsync(Ct)}");
                }
                else if (expected == HttpStatusCode.Forbidden)
                {
                    Assert.Equal("FORBIDDEN", (await response.JsonAsync()).GetProperty("code").GetString());
                }
            }
        }

        Assert.True(wrong.Count == 0, string.Join('\n', wrong));

        // What the refused calls aimed at is untouched: the two lines, no mutes, the settings of the last allowed writer.
        var history = await (await app.Client.GetAsync($"{session}/chat", Ct)).JsonAsync();
        Assert.Equal(
            new[] { messages[(int)Actor.Buyer], messages[(int)Actor.Removed] }.Order(),
            history.GetProperty("items").EnumerateArray().Select(m => m.GetProperty("id").GetString()!).Order());
        Assert.Equal(0L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM chat_mutes WHERE session_id = @sessionId AND user_id IN ('chatter-0', 'chatter-1')", new { sessionId }));
        Assert.Equal((long)Actor.Owner, await app.ScalarAsync<long>("SELECT slow_mode_seconds FROM chat_settings WHERE session_id = @sessionId", new { sessionId }));
        Assert.Equal("mod-1", await app.ScalarAsync<string>("SELECT MIN(user_id) FROM live_moderators WHERE session_id = @sessionId", new { sessionId }));
        Assert.Equal(1L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM live_moderators WHERE session_id = @sessionId", new { sessionId }));

        // No one but the owner sees a stream key: the session's public read never carries it.
        var read = await (await moderator.GetAsync(session, Ct)).Content.ReadAsStringAsync(Ct);
        Assert.DoesNotContain("streamKey", read, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Bad_appointments_get_clear_codes_and_change_nothing(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        var (sessionId, owner) = await PollTests.OnAirAsync(app);
        using var other = await SignedInAsync(app, "seller-2", "seller");
        using var buyer = await SignedInAsync(app, "buyer-1", name: "Citra");

        await (await AppointAsync(owner, sessionId, "seller-1")).AssertProblemAsync(HttpStatusCode.Conflict, "CANNOT_APPOINT_OWNER");
        await (await AppointAsync(owner, sessionId, "never-signed-in")).AssertProblemAsync(HttpStatusCode.NotFound, "USER_NOT_FOUND");
        await (await AppointAsync(owner, sessionId, new string('x', 65))).AssertProblemAsync(HttpStatusCode.BadRequest, "VALIDATION_FAILED");
        await (await AppointAsync(owner, "no-such-session", "buyer-1")).AssertProblemAsync(HttpStatusCode.NotFound, "SESSION_NOT_FOUND");
        await (await AppointAsync(other, sessionId, "buyer-1")).AssertProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        await (await AppointAsync(buyer, sessionId, "buyer-1")).AssertProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN"); // nobody appoints themselves
        await (await RemoveAsync(other, sessionId, "buyer-1")).AssertProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        Assert.Equal(0L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM live_moderators"));

        // Appointing twice is one appointment; the list names them; removing a non-moderator is a no-op.
        Assert.Equal(HttpStatusCode.NoContent, (await AppointAsync(owner, sessionId, "buyer-1")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await AppointAsync(owner, sessionId, "buyer-1")).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await RemoveAsync(owner, sessionId, "seller-2")).StatusCode);
        var list = await (await owner.GetAsync($"/api/live/sessions/{sessionId}/moderators", Ct)).JsonAsync();
        var only = Assert.Single(list.GetProperty("items").EnumerateArray());
        Assert.Equal("buyer-1", only.GetProperty("userId").GetString());
        Assert.Equal("Citra", only.GetProperty("userName").GetString());
        Assert.True((await (await buyer.GetAsync($"/api/live/sessions/{sessionId}/moderators/me", Ct)).JsonAsync()).GetProperty("moderator").GetBoolean());
        Assert.False((await (await other.GetAsync($"/api/live/sessions/{sessionId}/moderators/me", Ct)).JsonAsync()).GetProperty("moderator").GetBoolean());

        // A moderator does not silence or erase the seller.
        await (await buyer.PostAsJsonAsync($"/api/live/sessions/{sessionId}/mutes", new { userId = "seller-1", durationSeconds = 60 }, Ct))
            .AssertProblemAsync(HttpStatusCode.Conflict, "CANNOT_MUTE_OWNER");
        await using var sellerRoom = await RoomClient.ConnectAsync(app, await app.TokenAsync("seller-1", "seller", "Ayu"));
        await sellerRoom.JoinAsync(sessionId);
        await sellerRoom.ChatAsync(sessionId, "Welcome!");
        var sellerLine = (await sellerRoom.NextAsync("chat"))[0];
        Assert.Equal("seller", sellerLine.GetProperty("role").GetString());
        await (await buyer.DeleteAsync($"/api/live/sessions/{sessionId}/chat/{sellerLine.GetProperty("id").GetString()}", Ct))
            .AssertProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        Assert.Equal(0L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM chat_messages WHERE deleted_at IS NOT NULL"));
        Assert.Equal(0L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM chat_mutes"));

        // The cap: twenty moderators, and a twenty-first is refused while the list stays at twenty.
        for (var i = 2; i <= 20; i++)
        {
            (await SignedInAsync(app, $"helper-{i}")).Dispose();
            Assert.Equal(HttpStatusCode.NoContent, (await AppointAsync(owner, sessionId, $"helper-{i}")).StatusCode);
        }

        (await SignedInAsync(app, "helper-21")).Dispose();
        await (await AppointAsync(owner, sessionId, "helper-21")).AssertProblemAsync(HttpStatusCode.Conflict, "TOO_MANY_MODERATORS");
        Assert.Equal(20L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM live_moderators WHERE session_id = @sessionId", new { sessionId }));
        Assert.Equal(HttpStatusCode.NoContent, (await AppointAsync(owner, sessionId, "buyer-1")).StatusCode); // already one: still fine
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_moderator_s_messages_are_marked_for_everyone_and_a_removal_ends_the_rights_at_once(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        var (sessionId, owner) = await PollTests.OnAirAsync(app);
        using var moderator = await SignedInAsync(app, "mod-1", name: "Mira");
        await using var modRoom = await RoomClient.ConnectAsync(app, await app.TokenAsync("mod-1", "buyer", "Mira"), messagePack: true);
        await using var viewer = await RoomClient.ConnectAsync(app, await app.TokenAsync("buyer-2", "buyer", "Dimas"));
        await modRoom.JoinAsync(sessionId);
        await viewer.JoinAsync(sessionId);

        Assert.Equal(HttpStatusCode.NoContent, (await AppointAsync(owner, sessionId, "mod-1")).StatusCode);
        var status = await modRoom.NextAsync("moderatorStatus");
        Assert.True(status.GetProperty("moderator").GetBoolean());
        await modRoom.ChatAsync(sessionId, "Please keep it friendly");
        var line = await LineAsync(viewer, m => m.GetProperty("userId").GetString() == "mod-1");
        Assert.Equal("moderator", line.GetProperty("role").GetString());
        await viewer.ChatAsync(sessionId, "ok!");
        var reply = await LineAsync(modRoom, m => m.GetProperty("userId").GetString() == "buyer-2");
        Assert.Equal("viewer", reply.GetProperty("role").GetString()); // MessagePack carries the mark too

        // The mark is in history and in a late joiner's snapshot.
        var history = await (await app.Client.GetAsync($"/api/live/sessions/{sessionId}/chat", Ct)).JsonAsync();
        Assert.Contains(history.GetProperty("items").EnumerateArray(), m => m.GetProperty("userId").GetString() == "mod-1" && m.GetProperty("role").GetString() == "moderator");
        await using var late = await RoomClient.ConnectAsync(app, anonId: "late");
        var snapshot = await late.JoinAsync(sessionId);
        Assert.Contains(snapshot.GetProperty("recentChat").EnumerateArray(), m => m.GetProperty("userId").GetString() == "mod-1" && m.GetProperty("role").GetString() == "moderator");

        // Removed: the very next request is refused, and the next message is a viewer's.
        var buyerLine = reply.GetProperty("id").GetString();
        Assert.Equal(HttpStatusCode.NoContent, (await RemoveAsync(owner, sessionId, "mod-1")).StatusCode);
        await (await moderator.DeleteAsync($"/api/live/sessions/{sessionId}/chat/{buyerLine}", Ct)).AssertProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        await (await moderator.PostAsJsonAsync($"/api/live/sessions/{sessionId}/polls", new { question = "?", options = new[] { "a", "b" }, durationSeconds = 60 }, Ct))
            .AssertProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        Assert.False((await modRoom.NextAsync("moderatorStatus")).GetProperty("moderator").GetBoolean());
        await Task.Delay(1100, Ct); // the one-message-a-second limit
        await modRoom.ChatAsync(sessionId, "still here");
        var after = await LineAsync(viewer, m => m.GetProperty("text").GetString() == "still here");
        Assert.Equal("viewer", after.GetProperty("role").GetString());
        Assert.Equal(0L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM polls"));
        Assert.Equal(0L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM chat_messages WHERE deleted_at IS NOT NULL"));
    }

    [Fact]
    public async Task A_removal_on_one_node_ends_the_rights_on_the_other_at_once()
    {
        await using var nodeA = await PasarApp.StartAsync(Backend.Scaled);
        await using var nodeB = await PasarApp.StartAsync(Backend.Scaled, shareSettings: new(nodeA.Settings));
        var (sessionId, owner) = await PollTests.OnAirAsync(nodeA);
        using var moderatorOnB = await SignedInAsync(nodeB, "mod-1", name: "Mira");
        await using var modRoomOnB = await RoomClient.ConnectAsync(nodeB, await nodeB.TokenAsync("mod-1", "buyer", "Mira"));
        await using var viewerOnB = await RoomClient.ConnectAsync(nodeB, await nodeB.TokenAsync("buyer-2", "buyer", "Dimas"));
        await modRoomOnB.JoinAsync(sessionId);
        await viewerOnB.JoinAsync(sessionId);

        // Appointed through A: B's copy of the marks is dropped, and B's rights are read from SQL.
        Assert.Equal(HttpStatusCode.NoContent, (await AppointAsync(owner, sessionId, "mod-1")).StatusCode);
        await viewerOnB.NextAsync("moderatorsChanged");
        Assert.True((await modRoomOnB.NextAsync("moderatorStatus", TimeSpan.FromSeconds(15))).GetProperty("moderator").GetBoolean());
        await modRoomOnB.ChatAsync(sessionId, "hi from a moderator");
        Assert.Equal("moderator", (await LineAsync(viewerOnB, m => m.GetProperty("userId").GetString() == "mod-1")).GetProperty("role").GetString());
        var poll = await moderatorOnB.PostAsJsonAsync($"/api/live/sessions/{sessionId}/polls", new { question = "Red or blue?", options = new[] { "red", "blue" }, durationSeconds = 60 }, Ct);
        Assert.Equal(HttpStatusCode.Created, poll.StatusCode);
        var pollId = (await poll.JsonAsync()).GetProperty("id").GetString();

        await viewerOnB.ChatAsync(sessionId, "spam spam");
        var spam = (await LineAsync(viewerOnB, m => m.GetProperty("text").GetString() == "spam spam")).GetProperty("id").GetString();

        // Removed through A: the moderator's very next calls on B are refused.
        Assert.Equal(HttpStatusCode.NoContent, (await RemoveAsync(owner, sessionId, "mod-1")).StatusCode);
        await (await moderatorOnB.DeleteAsync($"/api/live/sessions/{sessionId}/chat/{spam}", Ct)).AssertProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        await (await moderatorOnB.PostAsync($"/api/polls/{pollId}/close", null, Ct)).AssertProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        await (await moderatorOnB.PutAsJsonAsync($"/api/live/sessions/{sessionId}/chat-settings", new { slowModeSeconds = 30, blockedWords = Array.Empty<string>() }, Ct))
            .AssertProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        Assert.Equal(0L, await nodeA.ScalarAsync<long>("SELECT COUNT(*) FROM chat_messages WHERE deleted_at IS NOT NULL"));
        Assert.Equal("open", await nodeA.ScalarAsync<string>("SELECT status FROM polls WHERE id = @pollId", new { pollId }));
        Assert.Equal(0L, await nodeA.ScalarAsync<long>("SELECT COUNT(*) FROM chat_settings"));

        // B hears of the change and marks the next message as a viewer's.
        await viewerOnB.NextAsync("moderatorsChanged", TimeSpan.FromSeconds(15));
        await Task.Delay(1100, Ct); // the one-message-a-second limit
        await modRoomOnB.ChatAsync(sessionId, "now a viewer");
        Assert.Equal("viewer", (await LineAsync(viewerOnB, m => m.GetProperty("text").GetString() == "now a viewer")).GetProperty("role").GetString());
        owner.Dispose();
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Thirty_appointments_in_parallel_stop_at_the_cap_of_twenty(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        var (sessionId, owner) = await PollTests.OnAirAsync(app);
        for (var i = 0; i < 30; i++)
        {
            (await SignedInAsync(app, $"helper-{i}")).Dispose();
        }

        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var calls = Enumerable.Range(0, 30).Select(i => Task.Run(async () =>
        {
            await go.Task;
            using var response = await AppointAsync(owner, sessionId, $"helper-{i}");
            return response.StatusCode == HttpStatusCode.NoContent ? "ok" : (await response.JsonAsync()).GetProperty("code").GetString();
        }, Ct)).ToList();
        go.SetResult();
        var codes = await Task.WhenAll(calls);
        Assert.Equal(20, codes.Count(c => c == "ok"));
        Assert.All(codes.Where(c => c != "ok"), c => Assert.Equal("TOO_MANY_MODERATORS", c));
        Assert.Equal(20L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM live_moderators WHERE session_id = @sessionId", new { sessionId }));
        owner.Dispose();
    }

    [Fact]
    public async Task The_moderator_routes_are_in_the_OpenAPI_document()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        var paths = JsonDocument.Parse(await app.Client.GetStringAsync("/openapi/v1.json", Ct)).RootElement.GetProperty("paths");
        foreach (var (path, method) in new[]
        {
            ("/api/live/sessions/{id}/moderators/{userId}", "put"), ("/api/live/sessions/{id}/moderators/{userId}", "delete"),
            ("/api/live/sessions/{id}/moderators", "get"), ("/api/live/sessions/{id}/moderators/me", "get"),
        })
        {
            Assert.True(paths.TryGetProperty(path, out var item), $"{path} is missing from OpenAPI");
            Assert.False(string.IsNullOrEmpty(item.GetProperty(method).GetProperty("operationId").GetString()), $"{method} {path} has no operationId");
        }
    }

    /// <summary>The first message in the next chat frame that has one matching <paramref name="match"/>.</summary>
    private static async Task<JsonElement> LineAsync(RoomClient client, Func<JsonElement, bool> match) =>
        (await client.WaitForAsync("chat", f => f.EnumerateArray().Any(match), TimeSpan.FromSeconds(15))).EnumerateArray().First(match);
}
