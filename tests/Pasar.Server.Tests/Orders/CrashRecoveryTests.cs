using System.Collections.Concurrent;
using System.Net;
using Dapper;
using Pasar.Server.Tests.Infrastructure;
using Pasar.Testing;

namespace Pasar.Server.Tests.Orders;

/// <summary>kill -9 in the middle of a burst of orders, then a restart on the same data.</summary>
public sealed class CrashRecoveryTests
{
    private const int InitialStock = 100_000;

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Every_confirmed_order_survives_a_kill_and_no_event_is_lost_or_doubled(Backend backend)
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "pasar-crash-" + Guid.NewGuid().ToString("N")[..8]);
        var settings = await PasarApp.SettingsForAsync(backend, dataDir);
        var port = LocalServers.FreePort();

        string productId;
        var confirmed = new ConcurrentBag<string>();
        await using (var first = await ServerProcess.StartAsync(settings, port))
        {
            using var seller = first.NewClient(await first.TokenAsync("seller-1", "seller"));
            productId = (await seller.CreateProductAsync(stock: InitialStock)).GetProperty("id").GetString()!;
            var buyers = await Task.WhenAll(Enumerable.Range(0, 16).Select(async i => first.NewClient(await first.TokenAsync($"buyer-{i}", "buyer"))));

            using var stop = new CancellationTokenSource();
            var workers = buyers.Select((buyer, w) => Task.Run(async () =>
            {
                for (var n = 0; !stop.IsCancellationRequested; n++)
                {
                    try
                    {
                        var response = await buyer.PlaceOrderAsync(productId, 1 + (n % 3), idempotencyKey: $"w{w}-{n}");
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

            await PasarApp.EventuallyAsync(() => Task.FromResult(confirmed.Count >= 150), TimeSpan.FromSeconds(60), "a burst of confirmed orders");
            first.Kill();
            await stop.CancelAsync();
            await Task.WhenAll(workers);
            foreach (var b in buyers)
            {
                b.Dispose();
            }
        }

        await using var second = await ServerProcess.StartAsync(settings, port);
        await using var db = PasarApp.DatabaseFor(settings);
        await using (var c = await db.OpenAsync(CancellationToken.None))
        {
            var orderIds = (await c.QueryAsync<string>("SELECT id FROM orders")).ToHashSet();
            Assert.Subset(orderIds, confirmed.ToHashSet());

            var sold = await c.ExecuteScalarAsync<long>("SELECT COALESCE(SUM(quantity), 0) FROM orders WHERE product_id = @productId", new { productId });
            var stock = await c.ExecuteScalarAsync<long>("SELECT stock FROM products WHERE id = @productId", new { productId });
            Assert.Equal(InitialStock, stock + sold);
            Assert.Equal(orderIds.Count, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM outbox WHERE type = 'PurchaseCompleted'"));

            // The restarted dispatcher finishes what the killed one left, and applies nothing twice.
            await PasarApp.EventuallyAsync(async () => await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM outbox WHERE dispatched_at IS NULL") == 0,
                TimeSpan.FromSeconds(60), "the outbox to drain after the restart");
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
