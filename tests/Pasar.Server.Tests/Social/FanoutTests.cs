using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Pasar.Server.Platform.Storage;
using Pasar.Server.Social;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.Social;

public sealed class FanoutTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Adds <paramref name="count"/> followers of <paramref name="sellerId"/> in one statement.</summary>
    internal static Task AddFollowersAsync(Database db, string sellerId, int count) =>
        db.InTransactionAsync(async (c, tx) =>
        {
            await c.ExecuteAsync(
                """
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < @count)
                INSERT INTO follows (follower_id, seller_id, created_at) SELECT 'fan-' || i, @sellerId, 0 FROM n
                """, new { count, sellerId }, tx, commandTimeout: 300);
            await c.ExecuteAsync(
                "INSERT INTO seller_stats (seller_id, followers) VALUES (@sellerId, @count) ON CONFLICT (seller_id) DO UPDATE SET followers = seller_stats.followers + @count",
                new { sellerId, count }, tx);
        }, CancellationToken.None);

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Every_one_of_100000_followers_gets_exactly_one_notification(Backend backend)
    {
        // Bigger batches than the default keep this test quick beside a busy suite; exactly-once is the point here.
        await using var app = await PasarApp.StartAsync(backend, s => s["Pasar:Social:FanoutBatchSize"] = "5000");
        var db = app.Services.GetRequiredService<Database>();
        await AddFollowersAsync(db, "seller-1", 100_000);
        var fanout = app.Services.GetRequiredService<FollowerFanout>();

        // Queued twice with the same job id (as a redelivered event would): still one notification each.
        for (var i = 0; i < 2; i++)
        {
            await db.InTransactionAsync((c, tx) => fanout.StartAsync(c, tx, "job-live-1", "seller-1", "SELLER_LIVE", "Ayu is live", "Tap to watch", new { sessionId = "s1" }, Ct), Ct);
        }

        await PasarApp.EventuallyAsync(async () => await app.ScalarAsync<long?>("SELECT done_at FROM follower_fanouts WHERE id = 'job-live-1'") is not null,
            TimeSpan.FromSeconds(300), "the fan-out to finish");
        Assert.Equal(100_000L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM notifications WHERE type = 'SELLER_LIVE'"));
        Assert.Equal(100_000L, await app.ScalarAsync<long>("SELECT COUNT(DISTINCT user_id) FROM notifications WHERE type = 'SELLER_LIVE'"));
        Assert.Equal(100_000L, await app.ScalarAsync<long>("SELECT delivered FROM follower_fanouts WHERE id = 'job-live-1'"));
    }

    [Fact]
    public async Task A_fan_out_interrupted_mid_way_resumes_without_repeating()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded, s => s["Pasar:Social:FanoutBatchSize"] = "100");
        var db = app.Services.GetRequiredService<Database>();
        await AddFollowersAsync(db, "seller-1", 1_000);
        await db.InTransactionAsync(async (c, tx) =>
        {
            // A job that a dead node had taken half-way: its cursor is at fan-500 and its lease has expired.
            await c.ExecuteAsync(
                """
                INSERT INTO follower_fanouts (id, seller_id, type, title, body, data, after_follower, delivered, created_at, locked_until)
                VALUES ('job-2', 'seller-1', 'SELLER_LIVE', 't', 'b', '{}', 'fan-500', 0, 0, 1)
                """, transaction: tx);
            await c.ExecuteAsync(
                "INSERT INTO notifications (id, user_id, type, title, body, data, created_at) SELECT 'job-2:' || follower_id, follower_id, 'SELLER_LIVE', 't', 'b', '{}', 0 FROM follows WHERE follower_id <= 'fan-500'",
                transaction: tx);
        }, Ct);

        await PasarApp.EventuallyAsync(async () => await app.ScalarAsync<long?>("SELECT done_at FROM follower_fanouts WHERE id = 'job-2'") is not null,
            TimeSpan.FromSeconds(30), "the resumed fan-out to finish");
        Assert.Equal(1_000L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM notifications WHERE type = 'SELLER_LIVE'"));
    }
}

public sealed class GoingLiveTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Going_live_reaches_the_feed_the_profile_and_every_follower_once(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend, s => s["Pasar:Social:FanoutBatchSize"] = "250");
        using var seller = await app.ClientAsAsync("seller-1", "seller", "Ayu Batik");
        using var follower = await app.ClientAsAsync("buyer-1", "buyer");
        await seller.GetAsync("/api/me/orders", Ct);
        await follower.PutAsync("/api/me/following/seller-1", null, Ct);
        var db = app.Services.GetRequiredService<Database>();
        await FanoutTests.AddFollowersAsync(db, "seller-1", 2_000);

        // The event the Live module commits with the session's first media.
        var outbox = app.Services.GetRequiredService<Pasar.Server.Platform.Events.Outbox>();
        await db.InTransactionAsync((c, tx) => outbox.EnqueueAsync(c, tx, new Pasar.Server.Live.LiveStarted("session-1", "seller-1", "Batik clearance", DateTimeOffset.UtcNow), Ct), Ct);

        await PasarApp.EventuallyAsync(async () => await app.ScalarAsync<long>("SELECT COUNT(*) FROM notifications WHERE type = 'SELLER_LIVE'") == 2_001,
            TimeSpan.FromSeconds(30), "a SELLER_LIVE notification for each of the 2,001 followers");
        var profile = await (await app.Client.GetAsync("/api/sellers/seller-1", Ct)).JsonAsync();
        Assert.True(profile.GetProperty("isLive").GetBoolean());
        Assert.Equal("session-1", profile.GetProperty("liveSessionId").GetString());
        var feed = await (await follower.GetAsync("/api/me/feed", Ct)).JsonAsync();
        Assert.Equal("LIVE_STARTED", feed.GetProperty("items")[0].GetProperty("type").GetString());
        Assert.Equal("session-1", feed.GetProperty("items")[0].GetProperty("sessionId").GetString());
        var inbox = await (await follower.GetAsync("/api/me/notifications", Ct)).JsonAsync();
        var live = inbox.GetProperty("items").EnumerateArray().Single(n => n.GetProperty("type").GetString() == "SELLER_LIVE");
        Assert.Equal("Ayu Batik is live", live.GetProperty("title").GetString());
        Assert.Equal("session-1", live.GetProperty("data").GetProperty("sessionId").GetString());

        await db.InTransactionAsync((c, tx) => outbox.EnqueueAsync(c, tx, new Pasar.Server.Live.LiveEnded("session-1", "seller-1", "owner", DateTimeOffset.UtcNow), Ct), Ct);
        await PasarApp.EventuallyAsync(async () => !(await (await app.Client.GetAsync("/api/sellers/seller-1", Ct)).JsonAsync()).GetProperty("isLive").GetBoolean(),
            TimeSpan.FromSeconds(10), "the seller to be shown offline");
    }
}
