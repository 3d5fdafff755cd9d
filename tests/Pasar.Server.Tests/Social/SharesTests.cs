using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Pasar.Server.Coins;
using Pasar.Server.Orders;
using Pasar.Server.Platform.Events;
using Pasar.Server.Platform.Storage;
using Pasar.Server.Tests.Infrastructure;
using Pasar.Testing;

namespace Pasar.Server.Tests.Social;

public sealed class SharesTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static HttpClient Visitor(PasarApp app, string userAgent)
    {
        var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = true }) { BaseAddress = app.BaseAddress };
        client.DefaultRequestHeaders.UserAgent.ParseAdd(userAgent);
        return client;
    }

    private static async Task<(string ProductId, string Code)> ShareAsync(PasarApp app, HttpClient sharer, int stock = 10)
    {
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        var productId = (await seller.CreateProductAsync(stock: stock)).GetProperty("id").GetString()!;
        var response = await sharer.PostAsJsonAsync($"/api/products/{productId}/shares", new { platform = "whatsapp" }, Ct);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var link = await response.JsonAsync();
        var code = link.GetProperty("trackingCode").GetString()!;
        Assert.EndsWith($"/s/{code}", link.GetProperty("url").GetString());
        return (productId, code);
    }

    private static async Task<long> BalanceAsync(HttpClient user) =>
        (await (await user.GetAsync("/api/me/coins", Ct)).JsonAsync()).GetProperty("balance").GetInt64();

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_click_then_a_purchase_rewards_the_sharer_once(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        using var sharer = await app.ClientAsAsync("buyer-sharer", "buyer");
        using var friend = await app.ClientAsAsync("buyer-friend", "buyer");
        var (productId, code) = await ShareAsync(app, sharer);
        Assert.True(code.Length >= 16, "at least 96 random bits, base64url");

        using var browser = Visitor(app, "Mozilla/5.0 friend-phone");
        var click = await browser.GetAsync($"/s/{code}", Ct);
        Assert.Equal(HttpStatusCode.Redirect, click.StatusCode);
        Assert.Equal($"/p/{productId}?ref={code}", click.Headers.Location?.OriginalString);
        await browser.GetAsync($"/s/{code}", Ct); // the same visitor again within 24 h

        var order = await friend.PlaceOrderAsync(productId, 1, idempotencyKey: "buy-1", extra: new { productId, quantity = 1, @ref = code });
        Assert.Equal(HttpStatusCode.Created, order.StatusCode);
        var retry = await friend.PlaceOrderAsync(productId, 1, idempotencyKey: "buy-1", extra: new { productId, quantity = 1, @ref = code });
        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);

        await PasarApp.EventuallyAsync(async () => await BalanceAsync(sharer) == 50, TimeSpan.FromSeconds(10), "the referral reward");
        await Task.Delay(500, Ct);
        Assert.Equal(50, await BalanceAsync(sharer));
        var stats = (await (await sharer.GetAsync("/api/me/shares", Ct)).JsonAsync()).GetProperty("items")[0];
        Assert.Equal(1, stats.GetProperty("clicks").GetInt64());
        Assert.Equal(1, stats.GetProperty("purchases").GetInt64());
        Assert.Equal(50, stats.GetProperty("coinsEarned").GetInt64());
        Assert.Equal("whatsapp", stats.GetProperty("platform").GetString());
        Assert.Equal(0, await BalanceAsync(friend));
    }

    [Fact]
    public async Task Distinct_visitors_count_separately_and_a_script_without_cookies_counts_once()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        using var sharer = await app.ClientAsAsync("buyer-sharer", "buyer");
        var (_, code) = await ShareAsync(app, sharer);
        using var phone = Visitor(app, "phone");
        using var laptop = Visitor(app, "laptop");
        await phone.GetAsync($"/s/{code}", Ct);
        await laptop.GetAsync($"/s/{code}", Ct);
        for (var i = 0; i < 5; i++)
        {
            using var noCookies = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = app.BaseAddress };
            noCookies.DefaultRequestHeaders.UserAgent.ParseAdd("curl/8");
            await noCookies.GetAsync($"/s/{code}", Ct);
        }

        var stats = (await (await sharer.GetAsync("/api/me/shares", Ct)).JsonAsync()).GetProperty("items")[0];
        Assert.Equal(3, stats.GetProperty("clicks").GetInt64());
    }

    [Fact]
    public async Task No_reward_for_a_self_referral_or_a_click_older_than_seven_days()
    {
        var clock = RegionTime.At(hour: 10);
        await using var app = await PasarApp.StartAsync(Backend.Embedded, services: s => s.AddSingleton<TimeProvider>(clock));
        using var sharer = await app.ClientAsAsync("buyer-sharer", "buyer");
        using var friend = await app.ClientAsAsync("buyer-friend", "buyer");
        var (productId, code) = await ShareAsync(app, sharer);
        using var browser = Visitor(app, "friend");
        await browser.GetAsync($"/s/{code}", Ct);

        // The sharer buys through their own link: nothing.
        Assert.Equal(HttpStatusCode.Created, (await sharer.PlaceOrderAsync(productId, extra: new { productId, quantity = 1, @ref = code })).StatusCode);
        // Eight days later the friend buys with the old link: nothing.
        clock.Advance(TimeSpan.FromDays(8));
        Assert.Equal(HttpStatusCode.Created, (await friend.PlaceOrderAsync(productId, extra: new { productId, quantity = 1, @ref = code })).StatusCode);
        await PasarApp.EventuallyAsync(async () => await app.ScalarAsync<long>("SELECT COUNT(*) FROM outbox WHERE dispatched_at IS NULL") == 0,
            TimeSpan.FromSeconds(10), "the purchases to be processed");
        Assert.Equal(0, await BalanceAsync(sharer));

        // A fresh click, and the friend's next purchase does reward.
        clock.Advance(TimeSpan.FromDays(1));
        await browser.GetAsync($"/s/{code}", Ct);
        Assert.Equal(HttpStatusCode.Created, (await friend.PlaceOrderAsync(productId, extra: new { productId, quantity = 1, @ref = code })).StatusCode);
        await PasarApp.EventuallyAsync(async () => await BalanceAsync(sharer) == 50, TimeSpan.FromSeconds(10), "the referral reward after a fresh click");
    }

    [Fact]
    public async Task The_reward_handler_run_twice_for_one_order_awards_once()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        using var sharer = await app.ClientAsAsync("buyer-sharer", "buyer");
        var (productId, code) = await ShareAsync(app, sharer);
        using var browser = Visitor(app, "friend");
        await browser.GetAsync($"/s/{code}", Ct);

        var handlers = app.Services.GetServices<EventHandlerRegistration>().Where(r => r.Name == "ReferralReward").ToList();
        var handler = Assert.Single(handlers);
        var purchase = new PurchaseCompleted("order-x", "buyer-friend", "seller-1", productId, 1, 1990, 1990, 0, "SGD", null, code, DateTimeOffset.UtcNow);
        var payload = System.Text.Json.JsonSerializer.Serialize(purchase, System.Text.Json.JsonSerializerOptions.Web);
        var db = app.Services.GetRequiredService<Database>();
        for (var i = 0; i < 2; i++)
        {
            await db.InTransactionAsync((c, tx) => handler.Invoke(app.Services, payload, new EventContext($"evt-{i}", DateTimeOffset.UtcNow, c, tx), Ct), Ct);
        }

        Assert.Equal(50, await BalanceAsync(sharer));
        Assert.Equal(1L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM coin_ledger WHERE source = 'REFERRAL' AND reference = 'order-x'"));
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_kill_between_the_order_and_the_award_still_awards_exactly_once(Backend backend)
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "pasar-ref-" + Guid.NewGuid().ToString("N")[..8]);
        var settings = await PasarApp.SettingsForAsync(backend, dataDir);
        var port = LocalServers.FreePort();
        string sharerToken;
        await using (var server = await ServerProcess.StartAsync(settings, port))
        {
            using var seller = server.NewClient(await server.TokenAsync("seller-1", "seller"));
            sharerToken = await server.TokenAsync("buyer-sharer", "buyer");
            using var sharer = server.NewClient(sharerToken);
            using var friend = server.NewClient(await server.TokenAsync("buyer-friend", "buyer"));
            var productId = (await seller.CreateProductAsync(stock: 50)).GetProperty("id").GetString()!;
            var code = (await (await sharer.PostAsJsonAsync($"/api/products/{productId}/shares", new { platform = "line" }, Ct)).JsonAsync())
                .GetProperty("trackingCode").GetString()!;
            using var browser = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { BaseAddress = server.BaseAddress };
            await browser.GetAsync($"/s/{code}", Ct);

            var orders = await Task.WhenAll(Enumerable.Range(0, 5).Select(i =>
                friend.PlaceOrderAsync(productId, 1, idempotencyKey: $"k{i}", extra: new { productId, quantity = 1, @ref = code })));
            Assert.All(orders, o => Assert.Equal(HttpStatusCode.Created, o.StatusCode));
            server.Kill(); // right after the orders committed, before or while their events are delivered
        }

        await using var restarted = await ServerProcess.StartAsync(settings, port);
        using var me = restarted.NewClient(sharerToken);
        await PasarApp.EventuallyAsync(async () => await BalanceAsync(me) == 250, TimeSpan.FromSeconds(30), "five referral rewards after the restart");
        await Task.Delay(1000, Ct);
        Assert.Equal(250, await BalanceAsync(me));
    }

    [Theory]
    [InlineData("unknownunknown")]
    [InlineData("%2F%2Fevil.example")]
    [InlineData("..%2F..%2Fapi")]
    [InlineData("a")]
    public async Task An_unknown_or_crafted_code_is_404_and_redirects_nowhere(string code)
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        using var browser = Visitor(app, "probe");
        var response = await browser.GetAsync($"/s/{code}", Ct);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Null(response.Headers.Location);
    }

    [Fact]
    public async Task Sharing_needs_a_known_platform_and_product()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        using var sharer = await app.ClientAsAsync("buyer-sharer", "buyer");
        var (productId, _) = await ShareAsync(app, sharer);
        await (await sharer.PostAsJsonAsync($"/api/products/{productId}/shares", new { platform = "myspace" }, Ct)).AssertProblemAsync(HttpStatusCode.BadRequest, "VALIDATION_FAILED");
        await (await sharer.PostAsJsonAsync("/api/products/nope/shares", new { platform = "x" }, Ct)).AssertProblemAsync(HttpStatusCode.NotFound, "PRODUCT_NOT_FOUND");
        Assert.Equal(1L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM shares"));
    }
}
