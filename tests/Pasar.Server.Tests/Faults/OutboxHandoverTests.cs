using System.Collections.Concurrent;
using System.Net;
using Dapper;
using Pasar.Server.Tests.Infrastructure;
using Pasar.Testing;

namespace Pasar.Server.Tests.Faults;

/// <summary>
/// kill -9 right after the dispatcher leased a batch of events, then a restart: the new node takes the dead node's work over
/// within seconds (short leases, renewed while working), not after a 30 s lease, and applies nothing twice.
/// </summary>
public sealed class OutboxHandoverTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_restarted_node_delivers_what_the_killed_node_had_leased_within_seconds(Backend backend)
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "pasar-handover-" + Guid.NewGuid().ToString("N")[..8]);
        var settings = await PasarApp.SettingsForAsync(backend, dataDir);
        settings["Pasar:RateLimits:Enabled"] = "false";
        var port = LocalServers.FreePort();
        await using var db = PasarApp.DatabaseFor(settings);

        string productId;
        long leasedAtKill;
        var confirmed = new ConcurrentBag<string>();
        await using (var first = await ServerProcess.StartAsync(settings, port))
        {
            using var seller = first.NewClient(await first.TokenAsync("seller-1", "seller"));
            productId = (await seller.CreateProductAsync(stock: 100_000)).GetProperty("id").GetString()!;
            var buyers = await Task.WhenAll(Enumerable.Range(0, 12).Select(async i => first.NewClient(await first.TokenAsync($"buyer-{i}", "buyer"))));
            using var stop = new CancellationTokenSource();
            var workers = buyers.Select((buyer, w) => Task.Run(async () =>
            {
                for (var n = 0; !stop.IsCancellationRequested; n++)
                {
                    try
                    {
                        using var response = await buyer.PlaceOrderAsync(productId, 1, idempotencyKey: $"w{w}-{n}");
                        if (response.StatusCode == HttpStatusCode.Created)
                        {
                            confirmed.Add((await response.JsonAsync()).GetProperty("id").GetString()!);
                        }
                    }
                    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
                    {
                        return; // the server is gone
                    }
                }
            })).ToList();

            // Kill just after the dispatcher claimed a new batch (the highest leased id went up): the lease it took is
            // fresh, so a long fixed lease would hold these events for nearly its whole length after the crash.
            long? lastHighest = null;
            await PasarApp.EventuallyAsync(async () =>
            {
                if (confirmed.Count < 100)
                {
                    return false;
                }

                await using var c = await db.OpenAsync(Ct);
                var highest = await c.ExecuteScalarAsync<long?>("SELECT MAX(id) FROM outbox WHERE dispatched_at IS NULL AND locked_by IS NOT NULL");
                var claimedNow = highest is not null && lastHighest is not null && highest > lastHighest;
                lastHighest = highest ?? lastHighest;
                return claimedNow;
            }, TimeSpan.FromSeconds(60), "a burst of orders and a fresh claim of a batch of their events");
            first.Kill();
            await stop.CancelAsync();
            await Task.WhenAll(workers);
            foreach (var b in buyers)
            {
                b.Dispose();
            }

            await using var check = await db.OpenAsync(Ct);
            leasedAtKill = await check.ExecuteScalarAsync<long>(
                "SELECT COUNT(*) FROM outbox WHERE dispatched_at IS NULL AND locked_by IS NOT NULL AND locked_until > @now",
                new { now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() });
        }

        Assert.True(leasedAtKill > 0, "the killed node held no unexpired lease, so the test would show nothing");
        await using var second = await ServerProcess.StartAsync(settings, port);
        // The old 30 s lease would keep these events waiting about 25 s after this restart; short leases hand them
        // over within a few seconds. 15 s leaves room for a loaded machine and still tells the two apart.
        await using (var c = await db.OpenAsync(Ct))
        {
            await PasarApp.EventuallyAsync(async () => await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM outbox WHERE dispatched_at IS NULL") == 0,
                TimeSpan.FromSeconds(15), "the restarted node to deliver the killed node's leased events");

            var orderIds = (await c.QueryAsync<string>("SELECT id FROM orders")).ToHashSet();
            Assert.Subset(orderIds, confirmed.ToHashSet());
            var sold = await c.ExecuteScalarAsync<long>("SELECT COALESCE(SUM(quantity), 0) FROM orders WHERE product_id = @productId", new { productId });
            Assert.Equal(sold, await c.ExecuteScalarAsync<long>("SELECT sold FROM products WHERE id = @productId", new { productId }));
            Assert.Equal(0L, await c.ExecuteScalarAsync<long>(
                "SELECT COUNT(*) FROM (SELECT event_id, handler FROM outbox_deliveries GROUP BY event_id, handler HAVING COUNT(*) > 1) d"));
        }

        try
        {
            Directory.Delete(dataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
