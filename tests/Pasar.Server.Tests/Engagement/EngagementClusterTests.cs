using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Pasar.Server.Platform.Auth;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.Engagement;

/// <summary>Two Pasar nodes on loopback sharing one PostgreSQL and one Redis share one poll.</summary>
public sealed class EngagementClusterTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Two_nodes_share_one_poll_one_vote_per_user_and_its_pushes()
    {
        await using var nodeA = await PasarApp.StartAsync(Backend.Scaled);
        await using var nodeB = await PasarApp.StartAsync(Backend.Scaled, shareSettings: new(nodeA.Settings));
        var (sessionId, seller) = await PollTests.OnAirAsync(nodeA);
        await using var viewerOnB = await RoomClient.ConnectAsync(nodeB, anonId: "viewer-on-b");
        await viewerOnB.JoinAsync(sessionId);
        var poll = await PollTests.StartPollAsync(seller, sessionId, durationSeconds: 8, options: 4);
        var pollId = poll.GetProperty("id").GetString()!;
        Assert.Equal(pollId, (await viewerOnB.NextAsync("pollStarted")).GetProperty("id").GetString());

        // Every user votes through both nodes at once: one vote each counts.
        var keys = nodeA.Services.GetRequiredService<TokenKeys>();
        var tokens = Enumerable.Range(0, 50).Select(i => keys.Issue($"voter-{i}", "buyer", null)).ToArray();
        using var httpA = new HttpClient { BaseAddress = nodeA.BaseAddress };
        using var httpB = new HttpClient { BaseAddress = nodeB.BaseAddress };
        var statuses = new ConcurrentBag<HttpStatusCode>();
        var clock = System.Diagnostics.Stopwatch.StartNew();
        await Parallel.ForEachAsync(Enumerable.Range(0, 100), new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = Ct }, async (n, _) =>
        {
            using var response = await PollTests.VoteAsync(n % 2 == 0 ? httpA : httpB, tokens[n / 2], pollId, n % 4);
            statuses.Add(response.StatusCode);
        });
        Assert.Equal(50, statuses.Count(s => s == HttpStatusCode.NoContent));
        Assert.Equal(50, statuses.Count(s => s == HttpStatusCode.Conflict));
        await Task.Delay(1000, Ct);
        var pushed = 0;
        while (viewerOnB.TryNext("pollUpdated", out _))
        {
            pushed++;
        }

        // Both nodes took votes, and together they pushed at most four updates a second (plus one window's edge).
        Assert.InRange(pushed, 1, (int)Math.Ceiling(clock.Elapsed.TotalSeconds * 4) + 1);

        // Both nodes read the same counts; the viewer on B hears the poll end, with all 50, exactly once.
        var fromB = await (await nodeB.Client.GetAsync($"/api/polls/{pollId}", Ct)).JsonAsync();
        Assert.Equal(50, fromB.GetProperty("counts").EnumerateArray().Sum(c => c.GetInt64()));
        var ended = await viewerOnB.NextAsync("pollEnded", TimeSpan.FromSeconds(20));
        Assert.Equal(pollId, ended.GetProperty("id").GetString());
        Assert.Equal(50, ended.GetProperty("counts").EnumerateArray().Sum(c => c.GetInt64()));
        await Task.Delay(1500, Ct);
        Assert.False(viewerOnB.TryNext("pollEnded", out _)); // closed by one node, not by both
        await (await PollTests.VoteAsync(httpB, keys.Issue("voter-late", "buyer", null), pollId, 0)).AssertProblemAsync(HttpStatusCode.Conflict, "POLL_CLOSED");
        seller.Dispose();
    }
}
