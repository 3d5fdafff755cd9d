using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using Dapper;
using Pasar.Server.Tests.Infrastructure;
using Pasar.Testing;

namespace Pasar.Server.Tests.Vouchers;

/// <summary>kill -9 in the middle of a voucher claim burst, then a restart on the same data.</summary>
public sealed class VoucherCrashTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_kill_during_a_claim_burst_never_gives_out_more_than_the_quantity_and_loses_no_confirmed_claim(Backend backend)
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "pasar-voucher-crash-" + Guid.NewGuid().ToString("N")[..8]);
        var settings = await PasarApp.SettingsForAsync(backend, dataDir);
        var port = LocalServers.FreePort();
        await using var db = PasarApp.DatabaseFor(settings);

        string voucherId;
        var confirmed = new ConcurrentBag<string>();
        await using (var server = await ServerProcess.StartAsync(settings, port))
        {
            using var seller = server.NewClient(await server.TokenAsync("seller-1", "seller"));
            var sessionId = (await (await seller.PostAsJsonAsync("/api/live/sessions", new { title = "Voucher rush" }, Ct)).JsonAsync()).GetProperty("id").GetString()!;
            await db.InTransactionAsync(async (c, tx) =>
                await c.ExecuteAsync("UPDATE live_sessions SET status = 'live', started_at = 0 WHERE id = @sessionId", new { sessionId }, tx), Ct); // first media arrived
            var voucher = await (await seller.PostAsJsonAsync($"/api/live/sessions/{sessionId}/vouchers",
                new { discountMinor = 100, currency = "SGD", quantity = 150, perUserLimit = 1, durationSeconds = 600 }, Ct)).JsonAsync();
            voucherId = voucher.GetProperty("id").GetString()!;
            var tokens = await Task.WhenAll(Enumerable.Range(0, 400).Select(i => server.TokenAsync($"buyer-{i}", "buyer")));

            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 32 }) { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
            var burst = Parallel.ForEachAsync(Enumerable.Range(0, 400), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, _) =>
            {
                try
                {
                    using var response = await VoucherTests.ClaimAsync(http, tokens[i], voucherId);
                    if (response.StatusCode == HttpStatusCode.Created)
                    {
                        confirmed.Add((await response.JsonAsync()).GetProperty("claimId").GetString()!);
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
                {
                    // the server was killed under this request
                }
            });
            await PasarApp.EventuallyAsync(() => Task.FromResult(confirmed.Count >= 40), TimeSpan.FromSeconds(60), "some claims confirmed");
            server.Kill();
            await burst;
        }

        await using var restarted = await ServerProcess.StartAsync(settings, port);
        await using (var c = await db.OpenAsync(Ct))
        {
            var claims = (await c.QueryAsync<string>("SELECT id FROM voucher_claims WHERE voucher_id = @voucherId", new { voucherId })).ToHashSet();
            Assert.Subset(claims, confirmed.ToHashSet());
            Assert.True(claims.Count <= 150);
            Assert.Equal(claims.Count, await c.ExecuteScalarAsync<long>("SELECT claimed FROM vouchers WHERE id = @voucherId", new { voucherId }));
        }

        // The claim goes on after the restart, up to the quantity and never past it.
        var lateTokens = await Task.WhenAll(Enumerable.Range(400, 300).Select(i => restarted.TokenAsync($"buyer-{i}", "buyer")));
        using (var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 32 }) { BaseAddress = restarted.BaseAddress })
        {
            await Parallel.ForEachAsync(lateTokens, new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = Ct }, async (token, _) =>
            {
                using var response = await VoucherTests.ClaimAsync(http, token, voucherId);
                Assert.True(response.StatusCode is HttpStatusCode.Created or HttpStatusCode.Conflict, response.StatusCode.ToString());
            });
        }

        await using (var c = await db.OpenAsync(Ct))
        {
            var total = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM voucher_claims WHERE voucher_id = @voucherId", new { voucherId });
            Assert.True(total <= 150, $"{total} claims of 150");
            // Embedded Garnet restarts empty and the gate is rebuilt from SQL exactly; an external Redis keeps at most
            // the 32 takes that were in flight at the kill, and those claims simply end with the window (ADR 0019).
            if (backend == Backend.Embedded)
            {
                Assert.Equal(150L, total);
            }
            else
            {
                Assert.True(total >= 150 - 32, $"only {total} claims of 150 after the restart");
            }

            Assert.Equal(total, await c.ExecuteScalarAsync<long>("SELECT COUNT(DISTINCT user_id) FROM voucher_claims WHERE voucher_id = @voucherId", new { voucherId }));
            Assert.Equal(total, await c.ExecuteScalarAsync<long>("SELECT claimed FROM vouchers WHERE id = @voucherId", new { voucherId }));
        }
    }
}
