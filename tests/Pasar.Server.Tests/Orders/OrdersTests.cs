using System.Net;
using System.Net.Http.Json;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.Orders;

public sealed class OrdersTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Two_hundred_concurrent_orders_for_fifty_units_sell_exactly_fifty(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        var productId = (await seller.CreateProductAsync(stock: 50)).GetProperty("id").GetString()!;
        var buyers = await Task.WhenAll(Enumerable.Range(0, 20).Select(i => app.ClientAsAsync($"buyer-{i}", "buyer")));

        using var start = new ManualResetEventSlim();
        var attempts = Enumerable.Range(0, 200).Select(i => Task.Run(async () =>
        {
            start.Wait(Ct);
            return await buyers[i % buyers.Length].PlaceOrderAsync(productId, 1, idempotencyKey: $"order-{i}");
        }, Ct)).ToList();
        start.Set();
        var responses = await Task.WhenAll(attempts);

        Assert.Equal(50, responses.Count(r => r.StatusCode == HttpStatusCode.Created));
        foreach (var refused in responses.Where(r => r.StatusCode != HttpStatusCode.Created))
        {
            await refused.AssertProblemAsync(HttpStatusCode.Conflict, "OUT_OF_STOCK");
        }

        var product = await (await app.Client.GetAsync($"/api/products/{productId}", Ct)).JsonAsync();
        Assert.Equal(0, product.GetProperty("stock").GetInt32());
        Assert.Equal(50L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM orders WHERE product_id = @productId", new { productId }));
        Assert.Equal(50L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM outbox WHERE type = 'PurchaseCompleted'"));
        await PasarApp.EventuallyAsync(async () => await app.ScalarAsync<long>("SELECT sold FROM products WHERE id = @productId", new { productId }) == 50,
            TimeSpan.FromSeconds(20), "sold count to reach 50 through the outbox");

        foreach (var b in buyers)
        {
            b.Dispose();
        }
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task The_same_idempotency_key_sent_twenty_times_at_once_creates_one_order(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        using var buyer = await app.ClientAsAsync("buyer-1", "buyer");
        var productId = (await seller.CreateProductAsync(stock: 100)).GetProperty("id").GetString()!;

        using var start = new ManualResetEventSlim();
        var attempts = Enumerable.Range(0, 20).Select(_ => Task.Run(async () =>
        {
            start.Wait(Ct);
            return await buyer.PlaceOrderAsync(productId, 2, idempotencyKey: "checkout-7f3a");
        }, Ct)).ToList();
        start.Set();
        var responses = await Task.WhenAll(attempts);

        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));
        var ids = new HashSet<string>();
        foreach (var r in responses)
        {
            ids.Add((await r.JsonAsync()).GetProperty("id").GetString()!);
        }

        Assert.Single(ids);
        Assert.Equal(1L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM orders"));
        Assert.Equal(98L, await app.ScalarAsync<long>("SELECT stock FROM products WHERE id = @productId", new { productId }));

        // The same key with another body is a client bug, not a new order.
        await (await buyer.PlaceOrderAsync(productId, 3, idempotencyKey: "checkout-7f3a")).AssertProblemAsync(HttpStatusCode.UnprocessableEntity, "IDEMPOTENCY_MISMATCH");
        Assert.Equal(1L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM orders"));

        // Keys belong to a user: another buyer's identical key is their own order.
        using var other = await app.ClientAsAsync("buyer-2", "buyer");
        Assert.Equal(HttpStatusCode.Created, (await other.PlaceOrderAsync(productId, 2, idempotencyKey: "checkout-7f3a")).StatusCode);
        Assert.Equal(2L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM orders"));
    }

    [Fact]
    public async Task A_refused_order_leaves_its_key_free_for_a_retry()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        using var buyer = await app.ClientAsAsync("buyer-1", "buyer");
        var product = await seller.CreateProductAsync(stock: 1);
        var productId = product.GetProperty("id").GetString()!;

        await (await buyer.PlaceOrderAsync(productId, 2, idempotencyKey: "k")).AssertProblemAsync(HttpStatusCode.Conflict, "OUT_OF_STOCK");
        await seller.PatchAsJsonAsync($"/api/products/{productId}", new { stock = 5 }, Ct);
        var retried = await buyer.PlaceOrderAsync(productId, 2, idempotencyKey: "k");
        Assert.Equal(HttpStatusCode.Created, retried.StatusCode);
        Assert.Equal(3L, await app.ScalarAsync<long>("SELECT stock FROM products WHERE id = @productId", new { productId }));
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task An_order_is_visible_to_its_buyer_and_the_seller_only(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        using var otherSeller = await app.ClientAsAsync("seller-2", "seller");
        using var buyer = await app.ClientAsAsync("buyer-1", "buyer");
        using var otherBuyer = await app.ClientAsAsync("buyer-2", "buyer");
        var productId = (await seller.CreateProductAsync(stock: 3, priceMinor: 1250)).GetProperty("id").GetString()!;

        var created = await buyer.PlaceOrderAsync(productId, 2, extra: new { productId, quantity = 2, @ref = "share-abc" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var order = await created.JsonAsync();
        var id = order.GetProperty("id").GetString()!;
        Assert.Equal("buyer-1", order.GetProperty("buyerId").GetString());
        Assert.Equal("seller-1", order.GetProperty("sellerId").GetString());
        Assert.Equal(1250, order.GetProperty("unitPriceMinor").GetInt64());
        Assert.Equal(2500, order.GetProperty("totalMinor").GetInt64());
        Assert.Equal(0, order.GetProperty("coinsRedeemed").GetInt64());
        Assert.Equal("placed", order.GetProperty("status").GetString());
        Assert.Equal("share-abc", order.GetProperty("ref").GetString());
        Assert.Equal("SGD", order.GetProperty("currency").GetString());

        Assert.Equal(HttpStatusCode.OK, (await buyer.GetAsync($"/api/orders/{id}", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await seller.GetAsync($"/api/orders/{id}", Ct)).StatusCode);
        await (await otherBuyer.GetAsync($"/api/orders/{id}", Ct)).AssertProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        await (await otherSeller.GetAsync($"/api/orders/{id}", Ct)).AssertProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        await (await buyer.GetAsync("/api/orders/unknown", Ct)).AssertProblemAsync(HttpStatusCode.NotFound, "ORDER_NOT_FOUND");

        var mine = await (await buyer.GetAsync("/api/me/orders", Ct)).JsonAsync();
        Assert.Equal(id, mine.GetProperty("items")[0].GetProperty("id").GetString());
        var theirs = await (await otherBuyer.GetAsync("/api/me/orders", Ct)).JsonAsync();
        Assert.Equal(0, theirs.GetProperty("items").GetArrayLength());
    }

    [Fact]
    public async Task Coins_over_the_cap_or_over_the_balance_are_refused_and_change_nothing()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        using var buyer = await app.ClientAsAsync("buyer-1", "buyer");
        var productId = (await seller.CreateProductAsync(stock: 3, priceMinor: 1000)).GetProperty("id").GetString()!;

        // 25 % of 1000 is 250.
        await (await buyer.PlaceOrderAsync(productId, extra: new { productId, quantity = 1, coinsToRedeem = 251 }))
            .AssertProblemAsync(HttpStatusCode.UnprocessableEntity, "COINS_CAP_EXCEEDED");
        await (await buyer.PlaceOrderAsync(productId, extra: new { productId, quantity = 1, coinsToRedeem = 250 }))
            .AssertProblemAsync(HttpStatusCode.UnprocessableEntity, "INSUFFICIENT_COINS");
        Assert.Equal(3L, await app.ScalarAsync<long>("SELECT stock FROM products WHERE id = @productId", new { productId }));
        Assert.Equal(0L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM orders"));
    }
}
