using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using Dapper;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
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

        // A live room whose chat goes on through the outage: every message the hub accepted must reach SQL.
        var sessionId = (await (await seller.PostAsJsonAsync("/api/live/sessions", new { title = "Outage show" }, Ct)).JsonAsync()).GetProperty("id").GetString()!;
        await using (var setup = PasarApp.DatabaseFor(settings))
        {
            await setup.InTransactionAsync(async (c, tx) =>
                await c.ExecuteAsync("UPDATE live_sessions SET status = 'live', started_at = 0 WHERE id = @sessionId", new { sessionId }, tx), Ct); // first media arrived
        }

        var chatToken = await server.TokenAsync("chatter", "buyer");
        await using var hub = new HubConnectionBuilder().WithUrl(new Uri(server.BaseAddress, "/hubs/live"), o =>
        {
            o.AccessTokenProvider = () => Task.FromResult<string?>(chatToken);
            o.Transports = Microsoft.AspNetCore.Http.Connections.HttpTransportType.WebSockets;
            o.SkipNegotiation = true;
        }).Build();
        await hub.StartAsync(Ct);
        await hub.InvokeAsync<object>("JoinSession", sessionId, Ct);
        var chatAccepted = new ConcurrentBag<string>();

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
        workers.Add(Task.Run(async () =>
        {
            for (var n = 0; !stop.IsCancellationRequested; n++)
            {
                try
                {
                    await hub.InvokeAsync("SendChat", sessionId, $"message {n}", CancellationToken.None);
                    chatAccepted.Add($"message {n}");
                }
                catch (HubException)
                {
                    // refused (the store is away, or too fast): not accepted, so not owed
                }

                await Task.Delay(20);
            }
        }, Ct));

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

        await using var db = PasarApp.DatabaseFor(settings); // a new pool: the one before the outage holds dead connections
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

        // Chat the hub accepted, also just before or during the outage, was held and written once SQL was back.
        Assert.NotEmpty(chatAccepted);
        await PasarApp.EventuallyAsync(async () =>
            (await c.QueryAsync<string>("SELECT text FROM chat_messages WHERE session_id = @sessionId", new { sessionId })).ToHashSet().IsSupersetOf(chatAccepted),
            TimeSpan.FromSeconds(30), "every accepted chat message in SQL");
        try
        {
            Directory.Delete(dataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
