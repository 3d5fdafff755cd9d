using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Pasar.Server.Live;
using Pasar.Server.Platform.Auth;
using Pasar.Server.Tests.Infrastructure;
using Pasar.Server.Tests.LiveRoom;

namespace Pasar.Server.Tests.Engagement;

public sealed class PollTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    internal static async Task<(string SessionId, HttpClient Seller)> OnAirAsync(PasarApp app, string sellerId = "seller-1")
    {
        var seller = await app.ClientAsAsync(sellerId, "seller", "Ayu");
        var sessionId = await ChatTests.CreateSessionAsync(seller);
        Assert.True(await app.Services.GetRequiredService<LiveSessionStore>().MarkLiveAsync(sessionId, Ct)); // first media arrived
        return (sessionId, seller);
    }

    internal static async Task<JsonElement> StartPollAsync(HttpClient seller, string sessionId, int durationSeconds = 300, int options = 3)
    {
        var response = await seller.PostAsJsonAsync($"/api/live/sessions/{sessionId}/polls",
            new { question = "Which colour next?", options = Enumerable.Range(0, options).Select(i => $"Colour {i}").ToArray(), durationSeconds }, Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync(Ct));
        return await response.JsonAsync();
    }

    internal static Task<HttpResponseMessage> VoteAsync(HttpClient http, string token, string pollId, int option)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/polls/{pollId}/votes") { Content = JsonContent.Create(new { option }) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return http.SendAsync(request, Ct);
    }

    private static long Sum(JsonElement counts) => counts.EnumerateArray().Sum(c => c.GetInt64());

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Twenty_users_voting_twice_in_parallel_give_twenty_votes_and_twenty_ALREADY_VOTED(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        var (sessionId, seller) = await OnAirAsync(app);
        await using var viewer = await RoomClient.ConnectAsync(app, anonId: "poll-watcher");
        await viewer.JoinAsync(sessionId);
        var poll = await StartPollAsync(seller, sessionId);
        var pollId = poll.GetProperty("id").GetString()!;
        Assert.Equal("open", poll.GetProperty("status").GetString());
        Assert.Equal(pollId, (await viewer.NextAsync("pollStarted")).GetProperty("id").GetString());

        var keys = app.Services.GetRequiredService<TokenKeys>();
        var tokens = Enumerable.Range(0, 20).Select(i => keys.Issue($"voter-{i}", "buyer", null)).ToArray();
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 40 }) { BaseAddress = app.BaseAddress };
        var results = new ConcurrentBag<(int Voter, HttpStatusCode Status, string? Code)>();
        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var votes = Enumerable.Range(0, 40).Select(n => Task.Run(async () =>
        {
            await go.Task;
            using var response = await VoteAsync(http, tokens[n % 20], pollId, n % 3);
            results.Add((n % 20, response.StatusCode, response.StatusCode == HttpStatusCode.NoContent ? null : (await response.JsonAsync()).GetProperty("code").GetString()));
        }, Ct)).ToList();
        go.SetResult();
        await Task.WhenAll(votes);

        Assert.Equal(20, results.Count(r => r.Status == HttpStatusCode.NoContent));
        Assert.Equal(20, results.Where(r => r.Status == HttpStatusCode.NoContent).Select(r => r.Voter).Distinct().Count());
        Assert.All(results.Where(r => r.Status != HttpStatusCode.NoContent), r =>
        {
            Assert.Equal(HttpStatusCode.Conflict, r.Status);
            Assert.Equal("ALREADY_VOTED", r.Code);
        });
        var read = await (await app.Client.GetAsync($"/api/polls/{pollId}", Ct)).JsonAsync();
        Assert.Equal(20, Sum(read.GetProperty("counts")));
        Assert.Equal(20L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM poll_votes WHERE poll_id = @pollId", new { pollId }));
        Assert.Equal(20L, await app.ScalarAsync<long>("SELECT total_votes FROM polls WHERE id = @pollId", new { pollId }));

        // The room hears the counts move (coalesced) until they sum to 20.
        await viewer.WaitForAsync("pollUpdated", e => Sum(e.GetProperty("counts")) == 20, TimeSpan.FromSeconds(10));

        // A late joiner and the session API see the open poll.
        await using var late = await RoomClient.ConnectAsync(app, anonId: "late-joiner");
        var snapshot = await late.JoinAsync(sessionId);
        Assert.Equal(pollId, snapshot.GetProperty("activePoll").GetProperty("id").GetString());
        var session = await (await app.Client.GetAsync($"/api/live/sessions/{sessionId}", Ct)).JsonAsync();
        Assert.Equal(20, Sum(session.GetProperty("activePoll").GetProperty("counts")));
        seller.Dispose();
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_poll_closes_at_its_end_or_early_and_then_refuses_votes_with_POLL_CLOSED(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        var (sessionId, seller) = await OnAirAsync(app);
        var buyer = await app.TokenAsync("buyer-1", "buyer");
        var other = await app.TokenAsync("buyer-2", "buyer");
        await using var viewer = await RoomClient.ConnectAsync(app, anonId: "poll-watcher");
        await viewer.JoinAsync(sessionId);

        // Bad input changes nothing; only the owner starts one.
        var one = await seller.PostAsJsonAsync($"/api/live/sessions/{sessionId}/polls", new { question = "?", options = new[] { "only" }, durationSeconds = 60 }, Ct);
        await one.AssertProblemAsync(HttpStatusCode.BadRequest, "VALIDATION_FAILED");
        var seven = await seller.PostAsJsonAsync($"/api/live/sessions/{sessionId}/polls", new { question = "?", options = Enumerable.Range(0, 7).Select(i => $"o{i}"), durationSeconds = 60 }, Ct);
        await seven.AssertProblemAsync(HttpStatusCode.BadRequest, "VALIDATION_FAILED");
        using var stranger = await app.ClientAsAsync("seller-2", "seller");
        var notOwner = await stranger.PostAsJsonAsync($"/api/live/sessions/{sessionId}/polls", new { question = "?", options = new[] { "a", "b" }, durationSeconds = 60 }, Ct);
        await notOwner.AssertProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        Assert.Equal(0L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM polls"));

        var poll = await StartPollAsync(seller, sessionId, durationSeconds: 5, options: 2);
        var pollId = poll.GetProperty("id").GetString()!;
        var again = await seller.PostAsJsonAsync($"/api/live/sessions/{sessionId}/polls", new { question = "Another?", options = new[] { "a", "b" }, durationSeconds = 60 }, Ct);
        await again.AssertProblemAsync(HttpStatusCode.Conflict, "POLL_ACTIVE");
        var outOfRange = await VoteAsync(app.Client, buyer, pollId, 2);
        await outOfRange.AssertProblemAsync(HttpStatusCode.BadRequest, "VALIDATION_FAILED");
        Assert.Equal(HttpStatusCode.NoContent, (await VoteAsync(app.Client, buyer, pollId, 1)).StatusCode);

        // The ticker closes it at its end; the room hears it once, and the results stay.
        var ended = await viewer.NextAsync("pollEnded", TimeSpan.FromSeconds(15));
        Assert.Equal(pollId, ended.GetProperty("id").GetString());
        Assert.Equal("closed", ended.GetProperty("status").GetString());
        var late = await VoteAsync(app.Client, other, pollId, 0);
        await late.AssertProblemAsync(HttpStatusCode.Conflict, "POLL_CLOSED");
        var read = await (await app.Client.GetAsync($"/api/polls/{pollId}", Ct)).JsonAsync();
        Assert.Equal("closed", read.GetProperty("status").GetString());
        Assert.Equal([0L, 1L], read.GetProperty("counts").EnumerateArray().Select(c => c.GetInt64()));
        Assert.Equal(JsonValueKind.Null, (await (await app.Client.GetAsync($"/api/live/sessions/{sessionId}", Ct)).JsonAsync()).GetProperty("activePoll").ValueKind);

        // A new poll, closed early by the owner (not by anyone else).
        var second = await StartPollAsync(seller, sessionId, durationSeconds: 600);
        var secondId = second.GetProperty("id").GetString()!;
        using var buyerClient = await app.ClientAsAsync("buyer-1", "buyer");
        await (await buyerClient.PostAsync($"/api/polls/{secondId}/close", null, Ct)).AssertProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        var closed = await seller.PostAsync($"/api/polls/{secondId}/close", null, Ct);
        Assert.Equal(HttpStatusCode.OK, closed.StatusCode);
        Assert.Equal("closed", (await closed.JsonAsync()).GetProperty("status").GetString());
        await (await VoteAsync(app.Client, buyer, secondId, 0)).AssertProblemAsync(HttpStatusCode.Conflict, "POLL_CLOSED");
        Assert.Equal(secondId, (await viewer.WaitForAsync("pollEnded", e => e.GetProperty("id").GetString() == secondId)).GetProperty("id").GetString());
        await (await app.Client.GetAsync("/api/polls/nope", Ct)).AssertProblemAsync(HttpStatusCode.NotFound, "POLL_NOT_FOUND");

        // Not live: no poll.
        using var idle = await app.ClientAsAsync("seller-3", "seller");
        var idleSession = await ChatTests.CreateSessionAsync(idle);
        var notLive = await idle.PostAsJsonAsync($"/api/live/sessions/{idleSession}/polls", new { question = "?", options = new[] { "a", "b" }, durationSeconds = 60 }, Ct);
        await notLive.AssertProblemAsync(HttpStatusCode.Conflict, "SESSION_NOT_LIVE");
        seller.Dispose();
    }

    [Fact]
    public async Task The_poll_and_giveaway_routes_are_in_the_OpenAPI_document_with_their_tags()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        var doc = JsonDocument.Parse(await app.Client.GetStringAsync("/openapi/v1.json", Ct)).RootElement;
        var paths = doc.GetProperty("paths");
        foreach (var (path, method, tag) in new[]
        {
            ("/api/live/sessions/{id}/polls", "post", "Polls"), ("/api/polls/{id}", "get", "Polls"), ("/api/polls/{id}/close", "post", "Polls"),
            ("/api/polls/{id}/votes", "post", "Polls"), ("/api/live/sessions/{id}/giveaways", "post", "Giveaways"),
            ("/api/giveaways/{id}", "get", "Giveaways"), ("/api/giveaways/{id}/entries", "post", "Giveaways"),
        })
        {
            Assert.True(paths.TryGetProperty(path, out var item), $"{path} is missing from OpenAPI");
            var operation = item.GetProperty(method);
            Assert.Contains(tag, operation.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
            Assert.False(string.IsNullOrEmpty(operation.GetProperty("operationId").GetString()));
        }
    }
}
