using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.FlashSales;

public sealed class SocialProofTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Bought_in_the_last_hour_is_a_true_sliding_window(Backend backend)
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow.AddHours(-2)); // tokens issued now stay valid for the whole script
        await using var app = await PasarApp.StartAsync(backend, services: s => s.AddSingleton<TimeProvider>(clock));
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        var productId = (await seller.CreateProductAsync(stock: 100)).GetProperty("id").GetString()!;
        var buyers = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => app.ClientAsAsync($"buyer-{i}", "buyer")));

        async Task<System.Text.Json.JsonElement> SignalsAsync() => await (await app.Client.GetAsync($"/api/products/{productId}/signals", Ct)).JsonAsync();
        async Task BuyAsync(HttpClient buyer)
        {
            Assert.Equal(HttpStatusCode.Created, (await buyer.PlaceOrderAsync(productId)).StatusCode);
            await PasarApp.EventuallyAsync(async () => await app.ScalarAsync<long>("SELECT COUNT(*) FROM outbox WHERE dispatched_at IS NULL") == 0, TimeSpan.FromSeconds(10), "the purchase to be recorded");
        }

        await BuyAsync(buyers[0]);                  // t = 0
        clock.Advance(TimeSpan.FromMinutes(30));
        await BuyAsync(buyers[1]);                  // t = 30 min
        clock.Advance(TimeSpan.FromMinutes(29));
        await BuyAsync(buyers[2]);                  // t = 59 min
        var at59 = await SignalsAsync();
        Assert.Equal(3, at59.GetProperty("boughtLastHour").GetInt64());
        Assert.Contains("3 people bought this in the last hour", at59.GetProperty("messages").EnumerateArray().Select(m => m.GetString()));

        clock.Advance(TimeSpan.FromMinutes(2));     // t = 61 min: the first purchase has aged out on its own
        var at61 = await SignalsAsync();
        Assert.Equal(2, at61.GetProperty("boughtLastHour").GetInt64());
        Assert.Empty(at61.GetProperty("messages").EnumerateArray()); // below the minimum of 3, nothing is claimed

        clock.Advance(TimeSpan.FromMinutes(30));    // t = 91 min
        Assert.Equal(1, (await SignalsAsync()).GetProperty("boughtLastHour").GetInt64());
        foreach (var b in buyers)
        {
            b.Dispose();
        }
    }

    [Fact]
    public async Task Watchers_and_rooms_pinning_the_product_get_purchase_and_low_stock_pushes()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded, s => s["Pasar:Proof:MinBuyersShown"] = "1");
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        var productId = (await seller.CreateProductAsync(stock: 11)).GetProperty("id").GetString()!;
        var sessionId = await LiveRoom.ChatTests.CreateSessionAsync(seller);
        await seller.PostAsJsonAsync($"/api/live/sessions/{sessionId}/pins", new { productId }, Ct);
        await using var productPage = await RoomClient.ConnectAsync(app, anonId: "product-page-1");
        await productPage.Connection.InvokeAsync("WatchProduct", productId, Ct);
        await using var room = await RoomClient.ConnectAsync(app, anonId: "room-viewer-1");
        await room.JoinAsync(sessionId);
        using var buyer = await app.ClientAsAsync("buyer-1", "buyer");

        Assert.Equal(HttpStatusCode.Created, (await buyer.PlaceOrderAsync(productId, 2)).StatusCode);
        foreach (var client in new[] { productPage, room })
        {
            var signal = await client.NextAsync("purchaseSignal");
            Assert.Equal(1, signal.GetProperty("boughtLastHour").GetInt64());
            Assert.Equal("1 people bought this in the last hour", signal.GetProperty("message").GetString());
            var low = await client.NextAsync("lowStock");
            Assert.Equal(9, low.GetProperty("stock").GetInt32());
            Assert.Equal("Only 9 left in stock!", low.GetProperty("message").GetString());
        }

        var signals = await (await app.Client.GetAsync($"/api/products/{productId}/signals", Ct)).JsonAsync();
        Assert.True(signals.GetProperty("lowStock").GetBoolean());
        Assert.Equal(9, signals.GetProperty("stock").GetInt32());
        await (await app.Client.GetAsync("/api/products/unknown/signals", Ct)).AssertProblemAsync(HttpStatusCode.NotFound, "PRODUCT_NOT_FOUND");
    }
}
