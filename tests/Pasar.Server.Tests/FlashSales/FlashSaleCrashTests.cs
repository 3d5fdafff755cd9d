using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using Dapper;
using Pasar.Server.Tests.Infrastructure;
using Pasar.Testing;

namespace Pasar.Server.Tests.FlashSales;

/// <summary>kill -9 in the middle of a flash-sale burst, then a restart on the same data.</summary>
public sealed class FlashSaleCrashTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_kill_halfway_through_the_burst_never_oversells_and_loses_no_confirmed_order(Backend backend)
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "pasar-flash-crash-" + Guid.NewGuid().ToString("N")[..8]);
        var settings = await PasarApp.SettingsForAsync(backend, dataDir);
        var port = LocalServers.FreePort();
        await using var db = PasarApp.DatabaseFor(settings);

        string saleId, productId;
        var confirmed = new ConcurrentBag<string>();
        await using (var server = await ServerProcess.StartAsync(settings, port))
        {
            using var seller = server.NewClient(await server.TokenAsync("seller-1", "seller"));
            productId = (await seller.CreateProductAsync(stock: 1_000)).GetProperty("id").GetString()!;
            var sessionId = (await (await seller.PostAsJsonAsync("/api/live/sessions", new { title = "Midnight sale" }, Ct)).JsonAsync()).GetProperty("id").GetString()!;
            await db.InTransactionAsync(async (c, tx) =>
                await c.ExecuteAsync("UPDATE live_sessions SET status = 'live', started_at = 0 WHERE id = @sessionId", new { sessionId }, tx), Ct); // first media arrived
            var sale = await (await seller.PostAsJsonAsync($"/api/live/sessions/{sessionId}/flash-sales",
                new { productId, salePriceMinor = 990, quantity = 300, durationSeconds = 600, perUserLimit = 1 }, Ct)).JsonAsync();
            saleId = sale.GetProperty("id").GetString()!;
            var tokens = await Task.WhenAll(Enumerable.Range(0, 600).Select(i => server.TokenAsync($"buyer-{i}", "buyer")));

            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 32 }) { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
            var burst = Parallel.ForEachAsync(Enumerable.Range(0, 600), new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (i, _) =>
            {
                try
                {
                    using var response = await FlashSaleTests.BuyAsync(http, tokens[i], saleId);
                    if (response.StatusCode == HttpStatusCode.Created)
                    {
                        confirmed.Add((await response.JsonAsync()).GetProperty("id").GetString()!);
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
                {
                    // the server was killed under this request
                }
            });
            await PasarApp.EventuallyAsync(() => Task.FromResult(confirmed.Count >= 100), TimeSpan.FromSeconds(60), "about a third of the sale sold");
            server.Kill();
            await burst;
        }

        // The restarted node rebuilds the gate from SQL (embedded Garnet starts empty) and the sale goes on.
        await using var restarted = await ServerProcess.StartAsync(settings, port);
        await using (var c = await db.OpenAsync(Ct))
        {
            var orders = (await c.QueryAsync<string>("SELECT id FROM orders WHERE flash_sale_id = @saleId", new { saleId })).ToHashSet();
            Assert.Subset(orders, confirmed.ToHashSet());
            Assert.True(orders.Count <= 300);
            Assert.Equal(orders.Count, await c.ExecuteScalarAsync<long>("SELECT sold FROM flash_sales WHERE id = @saleId", new { saleId }));
            Assert.Equal(orders.Count, await c.ExecuteScalarAsync<long>("SELECT COUNT(DISTINCT buyer_id) FROM orders WHERE flash_sale_id = @saleId", new { saleId }));
            using var anyone = restarted.NewClient();
            var read = await (await anyone.GetAsync($"/api/flash-sales/{saleId}", Ct)).JsonAsync();
            Assert.Equal(300 - orders.Count, read.GetProperty("remaining").GetInt32());
        }

        // Buyers who did not get one before the crash still can, up to the quantity and never past it.
        var more = new ConcurrentBag<HttpStatusCode>();
        var lateTokens = await Task.WhenAll(Enumerable.Range(600, 400).Select(i => restarted.TokenAsync($"buyer-{i}", "buyer")));
        using (var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 32 }) { BaseAddress = restarted.BaseAddress })
        {
            await Parallel.ForEachAsync(lateTokens, new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = Ct }, async (token, _) =>
            {
                using var response = await FlashSaleTests.BuyAsync(http, token, saleId);
                more.Add(response.StatusCode);
            });
        }

        await using (var c = await db.OpenAsync(Ct))
        {
            var total = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM orders WHERE flash_sale_id = @saleId", new { saleId });
            Assert.True(total <= 300, $"oversold: {total} orders for 300 units");
            Assert.Equal(total, await c.ExecuteScalarAsync<long>("SELECT sold FROM flash_sales WHERE id = @saleId", new { saleId }));
            // The product's own stock was never touched by the sale's buyers: 1,000 − 300 carved out.
            Assert.Equal(700L, await c.ExecuteScalarAsync<long>("SELECT stock FROM products WHERE id = @productId", new { productId }));
        }
    }
}
