using System.Net;
using System.Net.Http.Json;
using Dapper;
using Microsoft.AspNetCore.SignalR.Client;
using Pasar.Server.Tests.Infrastructure;
using Pasar.Testing;

namespace Pasar.Server.Tests.Engagement;

/// <summary>kill -9 of the node in the middle of a giveaway's draw, then a restart on the same data.</summary>
public sealed class GiveawayCrashTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_kill_during_the_draw_pays_nobody_and_the_restarted_node_draws_once_with_the_committed_seed()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "pasar-giveaway-crash-" + Guid.NewGuid().ToString("N")[..8]);
        var settings = await PasarApp.SettingsForAsync(Backend.Scaled, dataDir);
        var port = LocalServers.FreePort();
        await using var db = PasarApp.DatabaseFor(settings);
        const int entrants = 30;
        string id, seedHash;
        await using (var server = await ServerProcess.StartAsync(settings, port))
        {
            using var seller = server.NewClient(await server.TokenAsync("seller-1", "seller"));
            var sessionId = (await (await seller.PostAsJsonAsync("/api/live/sessions", new { title = "Prize night" }, Ct)).JsonAsync()).GetProperty("id").GetString()!;
            await db.InTransactionAsync(async (c, tx) =>
                await c.ExecuteAsync("UPDATE live_sessions SET status = 'live', started_at = 0 WHERE id = @sessionId", new { sessionId }, tx), Ct); // first media arrived
            using (var admin = server.NewClient(await server.TokenAsync("admin-1", "admin")))
            {
                var fund = new HttpRequestMessage(HttpMethod.Post, "/api/admin/coins/adjustments") { Content = JsonContent.Create(new { userId = "seller-1", amount = 1_000, reason = "prizes" }) };
                fund.Headers.Add("Idempotency-Key", "fund-1");
                Assert.Equal(HttpStatusCode.Created, (await admin.SendAsync(fund, Ct)).StatusCode);
            }

            var giveaway = await (await seller.PostAsJsonAsync($"/api/live/sessions/{sessionId}/giveaways", new { prizeCoins = 10, winners = entrants, durationSeconds = 20 }, Ct)).JsonAsync();
            id = giveaway.GetProperty("id").GetString()!;
            seedHash = giveaway.GetProperty("seedHash").GetString()!;
            var rooms = new List<HubConnection>();
            for (var i = 0; i < entrants; i++)
            {
                var token = await server.TokenAsync($"buyer-{i}", "buyer");
                var hub = new HubConnectionBuilder().WithUrl(new Uri(server.BaseAddress, "/hubs/live"), o => o.AccessTokenProvider = () => Task.FromResult<string?>(token)).Build();
                await hub.StartAsync(Ct);
                await hub.InvokeAsync<object>("JoinSession", sessionId, Ct);
                rooms.Add(hub);
                using var buyer = server.NewClient(token);
                Assert.Equal(HttpStatusCode.NoContent, (await buyer.PostAsync($"/api/giveaways/{id}/entries", null, Ct)).StatusCode);
            }

            // Each prize now takes 0.2 s inside the draw's transaction, so the draw runs about six seconds.
            await db.InTransactionAsync(async (c, tx) => await c.ExecuteAsync(
                """
                CREATE FUNCTION slow_prize() RETURNS trigger AS $$
                BEGIN
                  IF NEW.source = 'GIVEAWAY' THEN PERFORM pg_sleep(0.2); END IF;
                  RETURN NEW;
                END $$ LANGUAGE plpgsql;
                CREATE TRIGGER slow_prize BEFORE INSERT ON coin_ledger FOR EACH ROW EXECUTE FUNCTION slow_prize();
                """, transaction: tx), Ct);
            // Kill while the draw is inside its transaction: a backend is sleeping in a prize insert right now.
            await PasarApp.EventuallyAsync(async () =>
            {
                await using var c = await db.OpenAsync(Ct);
                return await c.ExecuteScalarAsync<long>(
                    "SELECT COUNT(*) FROM pg_stat_activity WHERE datname = current_database() AND wait_event = 'PgSleep' AND query LIKE '%coin_ledger%'") > 0;
            }, TimeSpan.FromSeconds(40), "the draw to be paying prizes");
            server.Kill();
            foreach (var hub in rooms)
            {
                await hub.DisposeAsync();
            }
        }

        await using (var c = await db.OpenAsync(Ct))
        {
            // Killed mid-draw: the draw's transaction never committed.
            Assert.Equal("active", await c.ExecuteScalarAsync<string>("SELECT status FROM giveaways WHERE id = @id", new { id }));
            Assert.Equal(0L, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM coin_ledger WHERE source = 'GIVEAWAY'"));
        }

        await db.InTransactionAsync(async (c, tx) => await c.ExecuteAsync("DROP TRIGGER slow_prize ON coin_ledger; DROP FUNCTION slow_prize()", transaction: tx), Ct);
        await using var restarted = await ServerProcess.StartAsync(settings, port);
        using var anyone = restarted.NewClient();
        await PasarApp.EventuallyAsync(async () => (await (await anyone.GetAsync($"/api/giveaways/{id}", Ct)).JsonAsync()).GetProperty("status").GetString() == "drawn",
            TimeSpan.FromSeconds(30), "the restarted node to draw");
        var read = await (await anyone.GetAsync($"/api/giveaways/{id}", Ct)).JsonAsync();
        Assert.Equal(seedHash, read.GetProperty("seedHash").GetString());
        var seed = read.GetProperty("seed").GetString()!;
        Assert.Equal(seedHash, Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Convert.FromHexString(seed))));
        var winners = read.GetProperty("winners").EnumerateArray().Select(e => e.GetString()!).ToList();
        Assert.Equal(GiveawayTests.Recompute(seed, read.GetProperty("entrantIds").EnumerateArray().Select(e => e.GetString()!), entrants), winners);
        await using (var c = await db.OpenAsync(Ct))
        {
            Assert.Equal((long)entrants, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM coin_ledger WHERE source = 'GIVEAWAY'"));
            Assert.Equal((long)entrants, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM coin_balances WHERE user_id LIKE 'buyer-%' AND balance = 10"));
            Assert.Equal(1_000L - (10 * entrants), await c.ExecuteScalarAsync<long>("SELECT balance FROM coin_balances WHERE user_id = 'seller-1'"));
        }
    }
}
