using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Pasar.Server.Platform.Redis;
using Pasar.Server.Tests.FlashSales;
using Pasar.Server.Tests.Infrastructure;
using Pasar.Testing;
using StackExchange.Redis;

namespace Pasar.Server.Tests.Faults;

/// <summary>
/// Redis stops answering (<c>CLIENT PAUSE 10000 ALL</c>: commands queue and run late, after the client gave up)
/// while orders, chat and a flash sale run. The server runs on its own redis-server so no other test is paused.
/// </summary>
public sealed class RedisOutageTests
{
    private const int Quantity = 250;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_paused_Redis_strands_no_flash_sale_unit_oversells_nothing_and_stops_nothing()
    {
        ExternalServers.Current.RequireScaled();
        await using var redis = await RedisServer.StartAsync();
        // A 1 s command timeout (checked about once a second), so that the gate's three tries all fall inside the 10 s pause and the purchases of that moment see 503.
        await using var app = await PasarApp.StartAsync(Backend.Scaled, s =>
        {
            s["Pasar:Redis:ConnectionString"] = $"{redis.ConnectionString},syncTimeout=1000,asyncTimeout=1000";
            s["Pasar:RateLimits:Enabled"] = "false";
        });
        await using var admin = await ConnectionMultiplexer.ConnectAsync($"{redis.ConnectionString},allowAdmin=true");
        var lifetime = app.Services.GetRequiredService<IHostApplicationLifetime>();

        var show = await FlashSaleTests.OnAirAsync(app, stock: 1_000);
        var sale = await FlashSaleTests.StartSaleAsync(show.Seller, show.SessionId,
            new { productId = show.ProductId, salePriceMinor = 990, quantity = Quantity, durationSeconds = 600, perUserLimit = 1 });
        var saleId = sale.GetProperty("id").GetString()!;
        var plainProduct = (await show.Seller.CreateProductAsync(stock: 10_000)).GetProperty("id").GetString()!;
        var tokens = await Task.WhenAll(Enumerable.Range(0, 300).Select(i => app.TokenAsync($"buyer-{i}", "buyer")));
        using var orderer = await app.ClientAsAsync("orderer", "buyer");
        await using var chatter = await RoomClient.ConnectAsync(app, tokens[0]);
        await chatter.JoinAsync(show.SessionId);

        var statuses = new ConcurrentBag<(HttpStatusCode Status, string Body)>();
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 32 }) { BaseAddress = app.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
        async Task WaveAsync(int from, int count) =>
            await Parallel.ForEachAsync(Enumerable.Range(from, count), new ParallelOptions { MaxDegreeOfParallelism = 32, CancellationToken = Ct }, async (i, _) =>
            {
                using var response = await FlashSaleTests.BuyAsync(http, tokens[i], saleId);
                statuses.Add((response.StatusCode, await response.Content.ReadAsStringAsync(Ct)));
            });

        await WaveAsync(0, 100);

        // The outage: purchases, plain orders and chat all arrive while Redis holds every command for 10 s.
        await admin.GetServer(admin.GetEndPoints()[0]).ExecuteAsync("CLIENT", "PAUSE", "10000", "ALL");
        var chatDuring = Task.Run(async () =>
        {
            for (var n = 0; n < 5; n++)
            {
                try
                {
                    await chatter.ChatAsync(show.SessionId, $"during the pause {n}");
                }
                catch (Microsoft.AspNetCore.SignalR.HubException)
                {
                    // refused while the store is away: acceptable, the connection stays
                }
            }
        }, Ct);
        var ordersDuring = Task.Run(async () =>
        {
            var codes = new List<HttpStatusCode>();
            for (var n = 0; n < 5; n++)
            {
                using var response = await orderer.PlaceOrderAsync(plainProduct, 1, idempotencyKey: $"plain-{n}");
                codes.Add(response.StatusCode);
            }

            return codes;
        }, Ct);
        await WaveAsync(100, 100);
        await chatDuring;
        Assert.All(await ordersDuring, s => Assert.True(s is HttpStatusCode.Created or HttpStatusCode.ServiceUnavailable, $"plain order got {s}"));

        // After the pause everything works again.
        await WaveAsync(200, 100);
        await chatter.ChatAsync(show.SessionId, "after the pause");
        await chatter.WaitForAsync("chat", e => e.EnumerateArray().Any(m => m.GetProperty("text").GetString() == "after the pause"), TimeSpan.FromSeconds(30));
        Assert.Equal(HttpStatusCode.Created, (await orderer.PlaceOrderAsync(plainProduct, 1, idempotencyKey: "plain-after")).StatusCode);
        Assert.False(lifetime.ApplicationStopping.IsCancellationRequested, "the host began to stop");

        Assert.All(statuses, s => Assert.True(s.Status is HttpStatusCode.Created or HttpStatusCode.Conflict or HttpStatusCode.ServiceUnavailable, $"{(int)s.Status}: {s.Body}"));
        Assert.Contains(statuses, s => s.Status == HttpStatusCode.ServiceUnavailable && s.Body.Contains("STORE_UNAVAILABLE", StringComparison.Ordinal));

        // No stranded unit: once the give-backs of the failed attempts settle, gate + sold = quantity. No oversell.
        var gateKey = app.Services.GetRequiredService<HotStore>().KeyPrefix + $"flash:{saleId}:remaining";
        long sold = 0, remaining = -1;
        await PasarApp.EventuallyAsync(async () =>
        {
            sold = await app.ScalarAsync<long>("SELECT COUNT(*) FROM orders WHERE flash_sale_id = @saleId", new { saleId });
            remaining = (long)await admin.GetDatabase().StringGetAsync(gateKey);
            return remaining + sold == Quantity;
        }, TimeSpan.FromSeconds(30), $"gate remaining + sold = {Quantity} (last seen {remaining} + {sold})");
        Assert.True(sold <= Quantity);
        Assert.Equal(sold, await app.ScalarAsync<long>("SELECT sold FROM flash_sales WHERE id = @saleId", new { saleId }));
        Assert.Equal(sold, statuses.Count(s => s.Status == HttpStatusCode.Created));
    }
}
