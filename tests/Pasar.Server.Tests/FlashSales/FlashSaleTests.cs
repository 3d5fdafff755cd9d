using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Pasar.Server.Live;
using Pasar.Server.Platform.Auth;
using Pasar.Server.Tests.Infrastructure;
using Pasar.Server.Tests.LiveRoom;

namespace Pasar.Server.Tests.FlashSales;

public sealed class FlashSaleTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    internal sealed record Show(string SessionId, string ProductId, HttpClient Seller);

    /// <summary>A seller on air with one product of <paramref name="stock"/>.</summary>
    internal static async Task<Show> OnAirAsync(PasarApp app, int stock = 500, long price = 10_000)
    {
        var seller = await app.ClientAsAsync("seller-1", "seller", "Ayu");
        var sessionId = await ChatTests.CreateSessionAsync(seller);
        var productId = (await seller.CreateProductAsync(stock: stock, priceMinor: price)).GetProperty("id").GetString()!;
        Assert.True(await app.Services.GetRequiredService<LiveSessionStore>().MarkLiveAsync(sessionId, Ct)); // first media arrived
        return new Show(sessionId, productId, seller);
    }

    internal static async Task<JsonElement> StartSaleAsync(HttpClient seller, string sessionId, object body)
    {
        var response = await seller.PostAsJsonAsync($"/api/live/sessions/{sessionId}/flash-sales", body, Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync(Ct));
        return await response.JsonAsync();
    }

    internal static Task<HttpResponseMessage> BuyAsync(HttpClient http, string token, string saleId, int quantity = 1, string? key = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/flash-sales/{saleId}/purchases") { Content = JsonContent.Create(new { quantity }) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Add("Idempotency-Key", key ?? Guid.NewGuid().ToString("N"));
        return http.SendAsync(request, Ct);
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Ten_thousand_attempts_from_three_thousand_buyers_buy_exactly_one_hundred(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        var show = await OnAirAsync(app, stock: 500);
        var sale = await StartSaleAsync(show.Seller, show.SessionId, new { productId = show.ProductId, salePriceMinor = 5_000, quantity = 100, durationSeconds = 300, perUserLimit = 1 });
        var saleId = sale.GetProperty("id").GetString()!;
        Assert.Equal(400L, await app.ScalarAsync<long>("SELECT stock FROM products WHERE id = @id", new { id = show.ProductId }));

        var keys = app.Services.GetRequiredService<TokenKeys>();
        var tokens = Enumerable.Range(0, 3000).Select(i => keys.Issue($"buyer-{i}", "buyer", null)).ToArray();
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 128 }) { BaseAddress = app.BaseAddress, Timeout = TimeSpan.FromMinutes(2) };
        var statuses = new ConcurrentBag<(int Buyer, HttpStatusCode Status, string? Code)>();
        await Parallel.ForEachAsync(Enumerable.Range(0, 10_000), new ParallelOptions { MaxDegreeOfParallelism = 128, CancellationToken = Ct }, async (n, _) =>
        {
            var buyer = n % 3000;
            using var response = await BuyAsync(http, tokens[buyer], saleId);
            string? code = null;
            if (response.StatusCode != HttpStatusCode.Created)
            {
                code = (await response.JsonAsync()).GetProperty("code").GetString();
            }

            statuses.Add((buyer, response.StatusCode, code));
        });

        var created = statuses.Where(s => s.Status == HttpStatusCode.Created).ToList();
        Assert.Equal(100, created.Count);
        Assert.Equal(100, created.Select(s => s.Buyer).Distinct().Count());
        Assert.All(statuses.Where(s => s.Status != HttpStatusCode.Created), s =>
        {
            Assert.Equal(HttpStatusCode.Conflict, s.Status);
            Assert.Contains(s.Code, new[] { "SOLD_OUT", "LIMIT_REACHED" });
        });
        Assert.Equal(100L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM orders WHERE flash_sale_id = @saleId", new { saleId }));
        Assert.Equal(100L, await app.ScalarAsync<long>("SELECT COUNT(DISTINCT buyer_id) FROM orders WHERE flash_sale_id = @saleId", new { saleId }));
        Assert.Equal(5_000L, await app.ScalarAsync<long>("SELECT MAX(unit_price_minor) FROM orders WHERE flash_sale_id = @saleId", new { saleId }));
        var read = await (await app.Client.GetAsync($"/api/flash-sales/{saleId}", Ct)).JsonAsync();
        Assert.Equal(0, read.GetProperty("remaining").GetInt32());

        // Sold out: the sale ends, nothing returns, and the product's stock is what was left outside the sale.
        await PasarApp.EventuallyAsync(async () => (await (await app.Client.GetAsync($"/api/flash-sales/{saleId}", Ct)).JsonAsync()).GetProperty("status").GetString() == "ended",
            TimeSpan.FromSeconds(10), "the sold-out sale to end");
        Assert.Equal(400L, await app.ScalarAsync<long>("SELECT stock FROM products WHERE id = @id", new { id = show.ProductId }));
        show.Seller.Dispose();
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Twenty_simultaneous_starts_in_one_session_start_exactly_one_sale_and_carve_the_stock_once(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        var show = await OnAirAsync(app, stock: 500);
        // A double click, many times over: every start asks for the same session at the same moment.
        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var starts = Enumerable.Range(0, 20).Select(i => Task.Run(async () =>
        {
            using var client = app.NewClient();
            client.DefaultRequestHeaders.Authorization = show.Seller.DefaultRequestHeaders.Authorization;
            await go.Task;
            using var response = await client.PostAsJsonAsync($"/api/live/sessions/{show.SessionId}/flash-sales",
                new { productId = show.ProductId, salePriceMinor = 5_000, quantity = 10 + i, durationSeconds = 300 }, Ct);
            var body = await response.JsonAsync();
            return (response.StatusCode, Body: body);
        }, Ct)).ToList();
        go.SetResult();
        var responses = await Task.WhenAll(starts);

        var created = Assert.Single(responses, r => r.StatusCode == HttpStatusCode.Created);
        Assert.All(responses.Where(r => r.StatusCode != HttpStatusCode.Created), r =>
        {
            Assert.Equal(HttpStatusCode.Conflict, r.StatusCode);
            Assert.Equal("FLASH_SALE_ACTIVE", r.Body.GetProperty("code").GetString());
        });
        var quantity = created.Body.GetProperty("quantity").GetInt64();
        Assert.Equal(500L - quantity, await app.ScalarAsync<long>("SELECT stock FROM products WHERE id = @id", new { id = show.ProductId }));
        Assert.Equal(1L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM flash_sales WHERE session_id = @id", new { id = show.SessionId }));
        Assert.Equal(1L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM outbox WHERE type = 'FlashSaleStarted'"));
        show.Seller.Dispose();
    }

    [Fact]
    public async Task The_window_is_exact_and_unsold_units_return_to_the_product()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var app = await PasarApp.StartAsync(Backend.Embedded, services: s => s.AddSingleton<TimeProvider>(clock));
        var show = await OnAirAsync(app, stock: 50);
        var early = await app.TokenAsync("buyer-early", "buyer");
        var late = await app.TokenAsync("buyer-late", "buyer");
        var sale = await StartSaleAsync(show.Seller, show.SessionId, new { productId = show.ProductId, salePriceMinor = 999, quantity = 20, durationSeconds = 60, perUserLimit = 2 });
        var saleId = sale.GetProperty("id").GetString()!;
        Assert.Equal(30L, await app.ScalarAsync<long>("SELECT stock FROM products WHERE id = @id", new { id = show.ProductId }));

        clock.Advance(TimeSpan.FromSeconds(59.9));
        Assert.Equal(HttpStatusCode.Created, (await BuyAsync(app.Client, early, saleId, 2)).StatusCode);
        clock.Advance(TimeSpan.FromSeconds(0.1)); // exactly endsAt: closed
        await (await BuyAsync(app.Client, late, saleId)).AssertProblemAsync(HttpStatusCode.Conflict, "SALE_NOT_ACTIVE");

        await PasarApp.EventuallyAsync(async () => await app.ScalarAsync<long>("SELECT stock FROM products WHERE id = @id", new { id = show.ProductId }) == 48,
            TimeSpan.FromSeconds(10), "the 18 unsold units to return to the product");
        var ended = await (await app.Client.GetAsync($"/api/flash-sales/{saleId}", Ct)).JsonAsync();
        Assert.Equal("ended", ended.GetProperty("status").GetString());
        Assert.Equal(18, ended.GetProperty("remaining").GetInt32());
    }

    [Fact]
    public async Task Limits_idempotency_and_the_rules_of_starting_a_sale()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        var show = await OnAirAsync(app, stock: 30);
        var buyer = await app.TokenAsync("buyer-1", "buyer");
        await (await show.Seller.PostAsJsonAsync($"/api/live/sessions/{show.SessionId}/flash-sales", new { productId = show.ProductId, salePriceMinor = 500, quantity = 5, durationSeconds = 5 }, Ct))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "VALIDATION_FAILED");
        await (await show.Seller.PostAsJsonAsync($"/api/live/sessions/{show.SessionId}/flash-sales", new { productId = show.ProductId, salePriceMinor = 500, quantity = 31 }, Ct))
            .AssertProblemAsync(HttpStatusCode.Conflict, "OUT_OF_STOCK");
        var saleId = (await StartSaleAsync(show.Seller, show.SessionId, new { productId = show.ProductId, salePriceMinor = 500, quantity = 10 })).GetProperty("id").GetString()!;
        await (await show.Seller.PostAsJsonAsync($"/api/live/sessions/{show.SessionId}/flash-sales", new { productId = show.ProductId, salePriceMinor = 500, quantity = 1 }, Ct))
            .AssertProblemAsync(HttpStatusCode.Conflict, "FLASH_SALE_ACTIVE");

        var first = await BuyAsync(app.Client, buyer, saleId, key: "tap-1");
        var retry = await BuyAsync(app.Client, buyer, saleId, key: "tap-1");
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        Assert.Equal((await first.JsonAsync()).GetProperty("id").GetString(), (await retry.JsonAsync()).GetProperty("id").GetString());
        await (await BuyAsync(app.Client, buyer, saleId, key: "tap-2")).AssertProblemAsync(HttpStatusCode.Conflict, "LIMIT_REACHED");
        await (await BuyAsync(app.Client, buyer, saleId, quantity: 3, key: "tap-1")).AssertProblemAsync(HttpStatusCode.UnprocessableEntity, "IDEMPOTENCY_MISMATCH");
        Assert.Equal(9, (await (await app.Client.GetAsync($"/api/flash-sales/{saleId}", Ct)).JsonAsync()).GetProperty("remaining").GetInt32());

        // A session that is not on air cannot run one.
        var offAir = await ChatTests.CreateSessionAsync(show.Seller, "Tomorrow's show");
        await (await show.Seller.PostAsJsonAsync($"/api/live/sessions/{offAir}/flash-sales", new { productId = show.ProductId, salePriceMinor = 500, quantity = 1 }, Ct))
            .AssertProblemAsync(HttpStatusCode.Conflict, "SESSION_NOT_LIVE");
        using var otherSeller = await app.ClientAsAsync("seller-2", "seller");
        await (await otherSeller.PostAsJsonAsync($"/api/live/sessions/{show.SessionId}/flash-sales", new { productId = show.ProductId, salePriceMinor = 500, quantity = 1 }, Ct))
            .AssertProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        show.Seller.Dispose();
    }

    [Fact]
    public async Task The_room_sees_the_sale_start_count_down_and_end_and_followers_see_it_in_their_feed()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        var show = await OnAirAsync(app, stock: 10);
        using var follower = await app.ClientAsAsync("buyer-f", "buyer");
        await follower.PutAsync("/api/me/following/seller-1", null, Ct);
        await using var viewer = await RoomClient.ConnectAsync(app, anonId: "viewer-watching");
        await viewer.JoinAsync(show.SessionId);

        var saleId = (await StartSaleAsync(show.Seller, show.SessionId, new { productId = show.ProductId, salePriceMinor = 100, quantity = 3, perUserLimit = 1 })).GetProperty("id").GetString()!;
        Assert.Equal(saleId, (await viewer.NextAsync("flashSaleStarted")).GetProperty("id").GetString());
        var snapshot = await viewer.JoinAsync(show.SessionId);
        Assert.Equal(saleId, snapshot.GetProperty("activeFlashSale").GetProperty("id").GetString());

        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.Created, (await BuyAsync(app.Client, await app.TokenAsync($"buyer-{i}", "buyer"), saleId)).StatusCode);
        }

        var update = await viewer.WaitForAsync("flashSaleUpdated", e => e.GetProperty("remaining").GetInt32() == 0);
        Assert.Equal(saleId, update.GetProperty("id").GetString());
        var ended = await viewer.NextAsync("flashSaleEnded");
        Assert.Equal("sold_out", ended.GetProperty("reason").GetString());
        await PasarApp.EventuallyAsync(async () =>
            (await (await follower.GetAsync("/api/me/feed", Ct)).JsonAsync()).GetProperty("items").EnumerateArray().Any(a => a.GetProperty("type").GetString() == "FLASH_SALE_STARTED"),
            TimeSpan.FromSeconds(10), "FLASH_SALE_STARTED in the follower's feed");
        show.Seller.Dispose();
    }
}
