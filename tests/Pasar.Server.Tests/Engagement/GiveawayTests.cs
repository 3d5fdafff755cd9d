using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Pasar.Server.Engagement;
using Pasar.Server.Tests.Infrastructure;
using Pasar.Server.Tests.LiveRoom;

namespace Pasar.Server.Tests.Engagement;

public sealed class GiveawayTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    internal static async Task FundAsync(PasarApp app, string userId, long coins)
    {
        using var admin = await app.ClientAsAsync("admin-1", "admin");
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/admin/coins/adjustments") { Content = JsonContent.Create(new { userId, amount = coins, reason = "giveaway budget" }) };
        request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString("N"));
        var response = await admin.SendAsync(request, Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync(Ct));
    }

    internal static async Task<long> BalanceAsync(PasarApp app, string userId) =>
        await app.ScalarAsync<long?>("SELECT balance FROM coin_balances WHERE user_id = @userId", new { userId }) ?? 0;

    /// <summary>The draw of SPEC §14 written again here, from the text, not from the server's code.</summary>
    internal static List<string> Recompute(string seedHex, IEnumerable<string> entrants, int winners)
    {
        var seed = Convert.FromHexString(seedHex);
        return entrants
            .Select(id => (id, key: Convert.ToHexString(SHA256.HashData([.. seed, .. Encoding.UTF8.GetBytes(id)])).ToLowerInvariant()))
            .OrderBy(e => e.key, StringComparer.Ordinal)
            .Take(winners)
            .Select(e => e.id)
            .ToList();
    }

    private static Task<HttpResponseMessage> StartAsync(HttpClient seller, string sessionId, long prizeCoins, int winners, int durationSeconds) =>
        seller.PostAsJsonAsync($"/api/live/sessions/{sessionId}/giveaways", new { prizeCoins, winners, durationSeconds }, Ct);

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_giveaway_is_drawn_once_by_the_published_rule_and_pays_exactly_what_was_won(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        var (sessionId, seller) = await PollTests.OnAirAsync(app);
        await FundAsync(app, "seller-1", 1_000);
        await using var watcher = await RoomClient.ConnectAsync(app, anonId: "giveaway-watcher");
        await watcher.JoinAsync(sessionId);

        var started = await StartAsync(seller, sessionId, prizeCoins: 50, winners: 3, durationSeconds: 6);
        Assert.True(started.StatusCode == HttpStatusCode.Created, await started.Content.ReadAsStringAsync(Ct));
        var giveaway = await started.JsonAsync();
        var id = giveaway.GetProperty("id").GetString()!;
        var seedHash = giveaway.GetProperty("seedHash").GetString()!;
        Assert.Matches("^[0-9a-f]{64}$", seedHash);
        Assert.Equal(850, await BalanceAsync(app, "seller-1")); // the pool left the seller at start
        Assert.Equal(id, (await watcher.NextAsync("giveawayStarted")).GetProperty("id").GetString());
        await (await StartAsync(seller, sessionId, 10, 1, 60)).AssertProblemAsync(HttpStatusCode.Conflict, "GIVEAWAY_ACTIVE");

        // Five viewers in the room enter; one twice; one outside the room; the seller not at all.
        var viewers = new List<RoomClient>();
        var entrants = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            var userId = $"buyer-{i}";
            var room = await RoomClient.ConnectAsync(app, await app.TokenAsync(userId, "buyer"));
            await room.JoinAsync(sessionId);
            viewers.Add(room);
            using var client = await app.ClientAsAsync(userId, "buyer");
            Assert.Equal(HttpStatusCode.NoContent, (await client.PostAsync($"/api/giveaways/{id}/entries", null, Ct)).StatusCode);
            entrants.Add(userId);
        }

        using (var twice = await app.ClientAsAsync("buyer-0", "buyer"))
        {
            await (await twice.PostAsync($"/api/giveaways/{id}/entries", null, Ct)).AssertProblemAsync(HttpStatusCode.Conflict, "ALREADY_ENTERED");
        }

        using (var outside = await app.ClientAsAsync("buyer-outside", "buyer"))
        {
            await (await outside.PostAsync($"/api/giveaways/{id}/entries", null, Ct)).AssertProblemAsync(HttpStatusCode.Conflict, "NOT_IN_ROOM");
        }

        await (await seller.PostAsync($"/api/giveaways/{id}/entries", null, Ct)).AssertProblemAsync(HttpStatusCode.Forbidden, "OWN_GIVEAWAY");

        // Before the draw no API shows the seed.
        var before = await app.Client.GetAsync($"/api/giveaways/{id}", Ct);
        var beforeText = await before.Content.ReadAsStringAsync(Ct);
        var seedHex = await app.ScalarAsync<string>("SELECT seed FROM giveaway_seeds WHERE giveaway_id = @id", new { id });
        Assert.DoesNotContain(seedHex, beforeText, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(JsonValueKind.Null, (await before.JsonAsync()).GetProperty("seed").ValueKind);
        Assert.Equal(5, (await before.JsonAsync()).GetProperty("entrants").GetInt32());
        var session = await (await app.Client.GetAsync($"/api/live/sessions/{sessionId}", Ct)).JsonAsync();
        Assert.Equal(id, session.GetProperty("activeGiveaway").GetProperty("id").GetString());
        Assert.DoesNotContain(seedHex, session.GetRawText(), StringComparison.OrdinalIgnoreCase);

        var drawnPush = await watcher.NextAsync("giveawayDrawn", TimeSpan.FromSeconds(20));
        var read = await (await app.Client.GetAsync($"/api/giveaways/{id}", Ct)).JsonAsync();
        Assert.Equal("drawn", read.GetProperty("status").GetString());
        var seed = read.GetProperty("seed").GetString()!;
        Assert.Equal(seedHash, Convert.ToHexString(SHA256.HashData(Convert.FromHexString(seed))).ToLowerInvariant());
        var entrantIds = read.GetProperty("entrantIds").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Equal(entrants.Order(StringComparer.Ordinal), entrantIds.Order(StringComparer.Ordinal));
        Assert.Equal(5, read.GetProperty("entrants").GetInt32());
        var winners = read.GetProperty("winners").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Equal(Recompute(seed, entrantIds, 3), winners);
        Assert.Equal(winners, drawnPush.GetProperty("winners").EnumerateArray().Select(e => e.GetString()!));

        // Each winner is paid once; nobody else is; the seller lost exactly what was won.
        foreach (var entrant in entrants)
        {
            Assert.Equal(winners.Contains(entrant) ? 50 : 0, await BalanceAsync(app, entrant));
        }

        Assert.Equal(1_000 - (3 * 50), await BalanceAsync(app, "seller-1"));
        Assert.Null(await app.Services.GetRequiredService<GiveawayService>().DrawAsync(id, Ct)); // a second draw does nothing
        Assert.Equal(3L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM coin_ledger WHERE source = 'GIVEAWAY' AND reference LIKE @prefix", new { prefix = id + ":%" }));
        Assert.Equal(850, await BalanceAsync(app, "seller-1"));

        // After the draw no entry is taken, and the session no longer shows it.
        using (var lateComer = await app.ClientAsAsync("buyer-1", "buyer"))
        {
            await (await lateComer.PostAsync($"/api/giveaways/{id}/entries", null, Ct)).AssertProblemAsync(HttpStatusCode.Conflict, "GIVEAWAY_CLOSED");
        }

        Assert.Equal(JsonValueKind.Null, (await (await app.Client.GetAsync($"/api/live/sessions/{sessionId}", Ct)).JsonAsync()).GetProperty("activeGiveaway").ValueKind);

        // Fewer entrants than prizes: the unwon pool returns to the seller.
        var small = await (await StartAsync(seller, sessionId, prizeCoins: 100, winners: 4, durationSeconds: 5)).JsonAsync();
        var smallId = small.GetProperty("id").GetString()!;
        Assert.Equal(450, await BalanceAsync(app, "seller-1"));
        using (var only = await app.ClientAsAsync("buyer-4", "buyer"))
        {
            Assert.Equal(HttpStatusCode.NoContent, (await only.PostAsync($"/api/giveaways/{smallId}/entries", null, Ct)).StatusCode);
        }

        var before4 = await BalanceAsync(app, "buyer-4");
        await watcher.WaitForAsync("giveawayDrawn", e => e.GetProperty("id").GetString() == smallId, TimeSpan.FromSeconds(20));
        Assert.Equal(["buyer-4"], (await (await app.Client.GetAsync($"/api/giveaways/{smallId}", Ct)).JsonAsync()).GetProperty("winners").EnumerateArray().Select(e => e.GetString()!));
        Assert.Equal(before4 + 100, await BalanceAsync(app, "buyer-4"));
        Assert.Equal(850 - 100, await BalanceAsync(app, "seller-1"));
        foreach (var v in viewers)
        {
            await v.DisposeAsync();
        }

        seller.Dispose();
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_seller_without_the_pool_gets_INSUFFICIENT_COINS_and_nothing_changes(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        var (sessionId, seller) = await PollTests.OnAirAsync(app);
        await FundAsync(app, "seller-1", 100);
        await (await StartAsync(seller, sessionId, prizeCoins: 60, winners: 2, durationSeconds: 60)).AssertProblemAsync(HttpStatusCode.Conflict, "INSUFFICIENT_COINS");
        Assert.Equal(100, await BalanceAsync(app, "seller-1"));
        Assert.Equal(0L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM giveaways"));
        Assert.Equal(0L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM giveaway_seeds"));
        await (await StartAsync(seller, sessionId, prizeCoins: 0, winners: 1, durationSeconds: 60)).AssertProblemAsync(HttpStatusCode.BadRequest, "VALIDATION_FAILED");
        using var other = await app.ClientAsAsync("seller-2", "seller");
        await (await StartAsync(other, sessionId, prizeCoins: 1, winners: 1, durationSeconds: 60)).AssertProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        var idle = await ChatTests.CreateSessionAsync(seller, "Not yet on air");
        await (await StartAsync(seller, idle, prizeCoins: 1, winners: 1, durationSeconds: 60)).AssertProblemAsync(HttpStatusCode.Conflict, "SESSION_NOT_LIVE");
        Assert.Equal(HttpStatusCode.Created, (await StartAsync(seller, sessionId, prizeCoins: 50, winners: 2, durationSeconds: 60)).StatusCode);
        Assert.Equal(0, await BalanceAsync(app, "seller-1"));
        seller.Dispose();
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_giveaway_whose_node_stopped_before_the_draw_is_drawn_once_after_restart_with_the_committed_seed(Backend backend)
    {
        string id, seedHash, sessionId;
        DateTimeOffset endsAt;
        Dictionary<string, string?> settings;
        await using (var app = await PasarApp.StartAsync(backend))
        {
            app.KeepDataOnDispose = true;
            settings = new(app.Settings);
            HttpClient seller;
            (sessionId, seller) = await PollTests.OnAirAsync(app);
            await FundAsync(app, "seller-1", 500);
            // Long enough for four buyers to join and enter on a loaded machine before the node stops.
            var giveaway = await (await StartAsync(seller, sessionId, prizeCoins: 40, winners: 2, durationSeconds: 12)).JsonAsync();
            id = giveaway.GetProperty("id").GetString()!;
            endsAt = giveaway.GetProperty("endsAt").GetDateTimeOffset();
            seedHash = giveaway.GetProperty("seedHash").GetString()!;
            for (var i = 0; i < 4; i++)
            {
                await using var room = await RoomClient.ConnectAsync(app, await app.TokenAsync($"buyer-{i}", "buyer"));
                await room.JoinAsync(sessionId);
                using var client = await app.ClientAsAsync($"buyer-{i}", "buyer");
                Assert.Equal(HttpStatusCode.NoContent, (await client.PostAsync($"/api/giveaways/{id}/entries", null, Ct)).StatusCode);
            }

            seller.Dispose();
        }

        var untilEnd = endsAt + TimeSpan.FromSeconds(0.5) - DateTimeOffset.UtcNow;
        if (untilEnd > TimeSpan.Zero)
        {
            await Task.Delay(untilEnd, Ct); // its end passes while no node runs
        }
        await using var restarted = await PasarApp.StartAsync(backend, shareSettings: settings, restart: true);
        await PasarApp.EventuallyAsync(async () => (await (await restarted.Client.GetAsync($"/api/giveaways/{id}", Ct)).JsonAsync()).GetProperty("status").GetString() == "drawn",
            TimeSpan.FromSeconds(20), "the giveaway to be drawn after the restart");
        var read = await (await restarted.Client.GetAsync($"/api/giveaways/{id}", Ct)).JsonAsync();
        var seed = read.GetProperty("seed").GetString()!;
        Assert.Equal(seedHash, read.GetProperty("seedHash").GetString());
        Assert.Equal(seedHash, Convert.ToHexString(SHA256.HashData(Convert.FromHexString(seed))).ToLowerInvariant());
        var winners = read.GetProperty("winners").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Equal(Recompute(seed, read.GetProperty("entrantIds").EnumerateArray().Select(e => e.GetString()!), 2), winners);
        foreach (var winner in winners)
        {
            Assert.Equal(40, await BalanceAsync(restarted, winner));
        }

        Assert.Equal(500 - 80, await BalanceAsync(restarted, "seller-1"));
        Assert.Equal(2L, await restarted.ScalarAsync<long>("SELECT COUNT(*) FROM coin_ledger WHERE source = 'GIVEAWAY'"));
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_draw_that_fails_after_paying_one_winner_leaves_nothing_and_the_next_tick_draws_the_same_winners_once(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        var (sessionId, seller) = await PollTests.OnAirAsync(app);
        await FundAsync(app, "seller-1", 1_000);
        // The database itself refuses the draw's second prize: the draw dies halfway, as in a crash.
        var (create, drop) = backend == Backend.Embedded
            ? ("""
               CREATE TRIGGER fail_second_prize BEFORE INSERT ON coin_ledger
               WHEN NEW.source = 'GIVEAWAY' AND (SELECT COUNT(*) FROM coin_ledger WHERE source = 'GIVEAWAY') >= 1
               BEGIN SELECT RAISE(ABORT, 'injected failure in the draw'); END
               """, "DROP TRIGGER fail_second_prize")
            : ("""
               CREATE FUNCTION fail_second_prize() RETURNS trigger AS $$
               BEGIN
                 IF NEW.source = 'GIVEAWAY' AND (SELECT COUNT(*) FROM coin_ledger WHERE source = 'GIVEAWAY') >= 1 THEN
                   RAISE EXCEPTION 'injected failure in the draw';
                 END IF;
                 RETURN NEW;
               END $$ LANGUAGE plpgsql;
               CREATE TRIGGER fail_second_prize BEFORE INSERT ON coin_ledger FOR EACH ROW EXECUTE FUNCTION fail_second_prize();
               """, "DROP TRIGGER fail_second_prize ON coin_ledger; DROP FUNCTION fail_second_prize()");
        await using (var db = PasarApp.DatabaseFor(app.Settings))
        {
            await db.InTransactionAsync(async (c, tx) => await Dapper.SqlMapper.ExecuteAsync(c, create, transaction: tx), Ct);
        }

        var id = (await (await StartAsync(seller, sessionId, prizeCoins: 30, winners: 2, durationSeconds: 5)).JsonAsync()).GetProperty("id").GetString()!;
        var rooms = new List<RoomClient>();
        for (var i = 0; i < 3; i++)
        {
            var room = await RoomClient.ConnectAsync(app, await app.TokenAsync($"buyer-{i}", "buyer"));
            await room.JoinAsync(sessionId);
            rooms.Add(room);
            using var client = await app.ClientAsAsync($"buyer-{i}", "buyer");
            Assert.Equal(HttpStatusCode.NoContent, (await client.PostAsync($"/api/giveaways/{id}/entries", null, Ct)).StatusCode);
        }

        await Task.Delay(TimeSpan.FromSeconds(7), Ct); // past its end: the ticker has tried (and failed) to draw
        Assert.Equal("active", await app.ScalarAsync<string>("SELECT status FROM giveaways WHERE id = @id", new { id }));
        Assert.Equal(0L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM coin_ledger WHERE source = 'GIVEAWAY'"));
        Assert.Equal(JsonValueKind.Null, (await (await app.Client.GetAsync($"/api/giveaways/{id}", Ct)).JsonAsync()).GetProperty("seed").ValueKind);

        await using (var db = PasarApp.DatabaseFor(app.Settings))
        {
            await db.InTransactionAsync(async (c, tx) => await Dapper.SqlMapper.ExecuteAsync(c, drop, transaction: tx), Ct);
        }

        await PasarApp.EventuallyAsync(async () => (await (await app.Client.GetAsync($"/api/giveaways/{id}", Ct)).JsonAsync()).GetProperty("status").GetString() == "drawn",
            TimeSpan.FromSeconds(15), "the draw to succeed on a later tick");
        var read = await (await app.Client.GetAsync($"/api/giveaways/{id}", Ct)).JsonAsync();
        var winners = read.GetProperty("winners").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Equal(Recompute(read.GetProperty("seed").GetString()!, ["buyer-0", "buyer-1", "buyer-2"], 2), winners);
        foreach (var i in Enumerable.Range(0, 3))
        {
            Assert.Equal(winners.Contains($"buyer-{i}") ? 30 : 0, await BalanceAsync(app, $"buyer-{i}"));
        }

        Assert.Equal(2L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM coin_ledger WHERE source = 'GIVEAWAY'"));
        Assert.Equal(1_000 - 60, await BalanceAsync(app, "seller-1"));
        foreach (var room in rooms)
        {
            await room.DisposeAsync();
        }

        seller.Dispose();
    }
}
