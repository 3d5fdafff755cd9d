using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using Pasar.Server.Tests.Infrastructure;
using Pasar.Testing;

namespace Pasar.Server.Tests.Auctions;

/// <summary>kill -9 in an auction's last second, then a restart on the same data: one order, or the unit back.</summary>
public sealed class AuctionCrashTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_kill_in_the_last_second_leaves_exactly_one_order_for_the_winner_or_the_unit_back_in_stock(Backend backend)
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "pasar-auction-crash-" + Guid.NewGuid().ToString("N")[..8]);
        var settings = await PasarApp.SettingsForAsync(backend, dataDir);
        var port = LocalServers.FreePort();
        await using var db = PasarApp.DatabaseFor(settings);

        string bidOn, unbid, bidProduct, unbidProduct;
        long lastConfirmed = 0;
        await using (var server = await ServerProcess.StartAsync(settings, port))
        {
            using var seller = server.NewClient(await server.TokenAsync("seller-1", "seller"));
            async Task<(string Session, string Product)> OnAirAsync(string title)
            {
                var sessionId = (await (await seller.PostAsJsonAsync("/api/live/sessions", new { title }, Ct)).JsonAsync()).GetProperty("id").GetString()!;
                await db.InTransactionAsync(async (c, tx) =>
                    await c.ExecuteAsync("UPDATE live_sessions SET status = 'live', started_at = 0 WHERE id = @sessionId", new { sessionId }, tx), Ct); // first media arrived
                return (sessionId, (await seller.CreateProductAsync(stock: 2)).GetProperty("id").GetString()!);
            }

            async Task<JsonElement> StartAsync(string sessionId, string productId)
            {
                using var response = await AuctionTests.StartAsync(seller, sessionId,
                    new { productId, startPriceMinor = 1_000, incrementMinor = 10, durationSeconds = 10, antiSnipeSeconds = 0 });
                Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync(Ct));
                return await response.JsonAsync();
            }

            var (bidSession, p1) = await OnAirAsync("Auction with bids");
            var (quietSession, p2) = await OnAirAsync("Auction without bids");
            (bidProduct, unbidProduct) = (p1, p2);
            var started = await StartAsync(bidSession, bidProduct);
            bidOn = started.GetProperty("id").GetString()!;
            unbid = (await StartAsync(quietSession, unbidProduct)).GetProperty("id").GetString()!;
            var endsAt = started.GetProperty("endsAt").GetDateTimeOffset();

            // Two buyers outbid each other without pause until the kill, half a second before the end.
            var tokens = new[] { await server.TokenAsync("ana", "buyer"), await server.TokenAsync("budi", "buyer") };
            using var http = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(5) };
            using var stop = new CancellationTokenSource();
            var bidding = Task.Run(async () =>
            {
                var turn = 0;
                var amount = 1_000L;
                while (!stop.IsCancellationRequested)
                {
                    try
                    {
                        using var response = await AuctionTests.BidAsync(http, tokens[turn % 2], bidOn, amount);
                        if (response.StatusCode == HttpStatusCode.Created)
                        {
                            Interlocked.Exchange(ref lastConfirmed, amount);
                            turn++;
                        }

                        amount += 10;
                    }
                    catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
                    {
                        return; // the server was killed under this request
                    }
                }
            }, Ct);
            var wait = endsAt - DateTimeOffset.UtcNow - TimeSpan.FromMilliseconds(500);
            if (wait > TimeSpan.Zero)
            {
                await Task.Delay(wait, Ct);
            }

            server.Kill();
            stop.Cancel();
            await bidding;
        }

        Assert.True(Interlocked.Read(ref lastConfirmed) >= 1_000, "no bid was confirmed before the kill");
        await using var restarted = await ServerProcess.StartAsync(settings, port);
        JsonElement sold = default, unsold = default;
        await PasarApp.EventuallyAsync(async () =>
        {
            sold = await (await restarted.NewClient().GetAsync($"/api/auctions/{bidOn}", Ct)).JsonAsync();
            unsold = await (await restarted.NewClient().GetAsync($"/api/auctions/{unbid}", Ct)).JsonAsync();
            return sold.GetProperty("status").GetString() != "open" && unsold.GetProperty("status").GetString() != "open";
        }, TimeSpan.FromSeconds(30), "both auctions to close after the restart");

        Assert.Equal("sold", sold.GetProperty("status").GetString());
        Assert.Equal("unsold", unsold.GetProperty("status").GetString());
        await using var c = await db.OpenAsync(Ct);
        // The highest bid SQL kept is at least every bid confirmed before the kill, and it is the one order's price.
        var highest = sold.GetProperty("highestBidMinor").GetInt64();
        Assert.True(highest >= Interlocked.Read(ref lastConfirmed), $"highest {highest}, confirmed {lastConfirmed}");
        Assert.Equal(highest, await c.ExecuteScalarAsync<long>("SELECT MAX(amount_minor) FROM auction_bids WHERE auction_id = @bidOn", new { bidOn }));
        var orders = (await c.QueryAsync<(string Id, string BuyerId, long TotalMinor)>(
            "SELECT id AS Id, buyer_id AS BuyerId, total_minor AS TotalMinor FROM orders WHERE product_id = @bidProduct", new { bidProduct })).ToList();
        Assert.Equal([(sold.GetProperty("orderId").GetString()!, sold.GetProperty("highestBidderId").GetString()!, highest)], orders);
        Assert.Equal(1L, await c.ExecuteScalarAsync<long>("SELECT stock FROM products WHERE id = @bidProduct", new { bidProduct }));
        Assert.Equal(0L, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM orders WHERE product_id = @unbidProduct", new { unbidProduct }));
        Assert.Equal(2L, await c.ExecuteScalarAsync<long>("SELECT stock FROM products WHERE id = @unbidProduct", new { unbidProduct }));
    }
}
