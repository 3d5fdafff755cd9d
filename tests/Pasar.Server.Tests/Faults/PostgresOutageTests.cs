using System.Collections.Concurrent;
using System.Net;
using Dapper;
using Pasar.Server.Tests.Infrastructure;
using Pasar.Testing;

namespace Pasar.Server.Tests.Faults;

/// <summary>
/// PostgreSQL stops (pg_ctl stop -m fast) for several seconds while orders flow, then starts again (SPEC §17).
/// The server runs as its own process on its own PostgreSQL cluster, so stopping it touches no other test.
/// </summary>
public sealed class PostgresOutageTests
{
    private const int InitialStock = 100_000;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Orders_get_503_during_the_outage_and_succeed_again_after_it_without_losing_one()
    {
        ExternalServers.Current.RequireScaled();
        await using var pg = await PostgresServer.StartAsync();
        var dataDir = Path.Combine(Path.GetTempPath(), "pasar-pg-outage-" + Guid.NewGuid().ToString("N")[..8]);
        var settings = await PasarApp.SettingsForAsync(Backend.Scaled, dataDir);
        settings["Pasar:Database:ConnectionString"] = await pg.CreateDatabaseAsync();
        settings["Pasar:RateLimits:Enabled"] = "false";
        await using var server = await ServerProcess.StartAsync(settings, LocalServers.FreePort());

        using var seller = server.NewClient(await server.TokenAsync("seller-1", "seller"));
        var productId = (await seller.CreateProductAsync(stock: InitialStock)).GetProperty("id").GetString()!;
        var buyers = await Task.WhenAll(Enumerable.Range(0, 8).Select(async i => server.NewClient(await server.TokenAsync($"buyer-{i}", "buyer"))));

        var confirmed = new ConcurrentBag<string>();
        var unavailable = new ConcurrentBag<(string? Code, string? RetryAfter)>();
        var other = new ConcurrentBag<string>();
        using var stop = new CancellationTokenSource();
        var workers = buyers.Select((buyer, w) => Task.Run(async () =>
        {
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
                using var response = await buyer.PlaceOrderAsync(productId, 1 + (n % 3), idempotencyKey: $"w{w}-{n}");
                var body = await response.JsonAsync();
                switch (response.StatusCode)
                {
                    case HttpStatusCode.Created:
                        confirmed.Add(body.GetProperty("id").GetString()!);
                        break;
                    case HttpStatusCode.ServiceUnavailable:
                        unavailable.Add((body.GetProperty("code").GetString(), response.Headers.RetryAfter?.ToString()));
                        await Task.Delay(50);
                        break;
                    default:
                        other.Add($"{(int)response.StatusCode} {body}");
                        break;
                }
            }
        })).ToList();

        await PasarApp.EventuallyAsync(() => Task.FromResult(confirmed.Count >= 50), TimeSpan.FromSeconds(60), "orders flowing before the outage");
        await pg.StopAsync();
        await PasarApp.EventuallyAsync(() => Task.FromResult(!unavailable.IsEmpty), TimeSpan.FromSeconds(30), "a 503 while PostgreSQL is down");
        await Task.Delay(TimeSpan.FromSeconds(5), Ct); // the outage lasts a few seconds more, with requests still arriving
        Assert.False(server.HasExited, "the server exited during the outage: " + server.Output);
        await pg.StartAgainAsync();

        var afterRestart = confirmed.Count;
        await PasarApp.EventuallyAsync(() => Task.FromResult(confirmed.Count >= afterRestart + 50), TimeSpan.FromSeconds(30), "orders succeeding again after PostgreSQL is back");
        await stop.CancelAsync();
        await Task.WhenAll(workers);
        foreach (var b in buyers)
        {
            b.Dispose();
        }

        Assert.False(server.HasExited, "the server exited after the outage: " + server.Output);
        Assert.Empty(other);
        Assert.All(unavailable, u =>
        {
            Assert.Equal("STORE_UNAVAILABLE", u.Code);
            Assert.False(string.IsNullOrEmpty(u.RetryAfter));
        });

        await using var db = PasarApp.DatabaseFor(settings);
        await using var c = await db.OpenAsync(Ct);
        var orderIds = (await c.QueryAsync<string>("SELECT id FROM orders")).ToHashSet();
        Assert.Subset(orderIds, confirmed.ToHashSet());
        var sold = await c.ExecuteScalarAsync<long>("SELECT COALESCE(SUM(quantity), 0) FROM orders WHERE product_id = @productId", new { productId });
        var stock = await c.ExecuteScalarAsync<long>("SELECT stock FROM products WHERE id = @productId", new { productId });
        Assert.Equal(InitialStock, stock + sold);

        // Background work resumed too: the outbox drains, and each event's effects ran once.
        await PasarApp.EventuallyAsync(async () => await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM outbox WHERE dispatched_at IS NULL") == 0,
            TimeSpan.FromSeconds(60), "the outbox to drain after the outage");
        Assert.Equal(sold, await c.ExecuteScalarAsync<long>("SELECT sold FROM products WHERE id = @productId", new { productId }));
        try
        {
            Directory.Delete(dataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
