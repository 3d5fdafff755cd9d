using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Pasar.Server.Live;
using Pasar.Server.Platform.Auth;
using Pasar.Server.Tests.Coins;
using Pasar.Server.Tests.FlashSales;
using Pasar.Server.Tests.Infrastructure;
using Pasar.Server.Tests.LiveRoom;

namespace Pasar.Server.Tests.Vouchers;

/// <summary>Live vouchers (SPEC §15, ADR 0019): the gate and SQL guards, idempotent claims, spending a claim on an order.</summary>
public sealed class VoucherTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    internal static async Task<JsonElement> DropAsync(HttpClient seller, string sessionId, object body)
    {
        var response = await seller.PostAsJsonAsync($"/api/live/sessions/{sessionId}/vouchers", body, Ct);
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync(Ct));
        return await response.JsonAsync();
    }

    internal static Task<HttpResponseMessage> ClaimAsync(HttpClient http, string token, string voucherId, string? key = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/vouchers/{voucherId}/claims");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Add("Idempotency-Key", key ?? Guid.NewGuid().ToString("N"));
        return http.SendAsync(request, Ct);
    }

    private static async Task<string> ClaimIdAsync(HttpClient http, string token, string voucherId)
    {
        using var response = await ClaimAsync(http, token, voucherId);
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync(Ct));
        return (await response.JsonAsync()).GetProperty("claimId").GetString()!;
    }

    private static object Terms(int quantity = 50, int perUserLimit = 1, long discountMinor = 200, long minSpendMinor = 0, string currency = "SGD", int durationSeconds = 300) =>
        new { discountMinor, currency, minSpendMinor, quantity, perUserLimit, durationSeconds };

    private static async Task<ConcurrentBag<(int User, HttpStatusCode Status, string? Code)>> CrowdAsync(
        PasarApp app, string voucherId, int attempts, int users, params PasarApp[] more)
    {
        var keys = app.Services.GetRequiredService<TokenKeys>();
        var tokens = Enumerable.Range(0, users).Select(i => keys.Issue($"crowd-{i}", "buyer", null)).ToArray();
        var nodes = new[] { app }.Concat(more).Select(n => new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = n.BaseAddress }).ToArray();
        var results = new ConcurrentBag<(int, HttpStatusCode, string?)>();
        var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var tasks = Enumerable.Range(0, attempts).Select(n => Task.Run(async () =>
        {
            await go.Task;
            using var response = await ClaimAsync(nodes[n % nodes.Length], tokens[n % users], voucherId);
            results.Add((n % users, response.StatusCode, response.StatusCode == HttpStatusCode.Created ? null : (await response.JsonAsync()).GetProperty("code").GetString()));
        }, Ct)).ToList();
        go.SetResult();
        await Task.WhenAll(tasks);
        foreach (var node in nodes)
        {
            node.Dispose();
        }

        return results;
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Two_hundred_parallel_claims_on_fifty_give_exactly_fifty_and_the_room_sees_them(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        var show = await FlashSaleTests.OnAirAsync(app);
        await using var viewer = await RoomClient.ConnectAsync(app, anonId: "viewer-1");
        await viewer.JoinAsync(show.SessionId);
        var voucher = await DropAsync(show.Seller, show.SessionId, Terms(quantity: 50));
        var voucherId = voucher.GetProperty("id").GetString()!;
        Assert.Equal(50, voucher.GetProperty("remaining").GetInt32());
        Assert.Equal(voucherId, (await viewer.NextAsync("voucherDropped")).GetProperty("id").GetString());

        var results = await CrowdAsync(app, voucherId, 200, 200);

        Assert.Equal(50, results.Count(r => r.Status == HttpStatusCode.Created));
        Assert.Equal(150, results.Count(r => r.Status == HttpStatusCode.Conflict && r.Code == "SOLD_OUT"));
        Assert.Equal(50L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM voucher_claims WHERE voucher_id = @voucherId", new { voucherId }));
        Assert.Equal(50L, await app.ScalarAsync<long>("SELECT COUNT(DISTINCT user_id) FROM voucher_claims WHERE voucher_id = @voucherId", new { voucherId }));
        Assert.Equal(50L, await app.ScalarAsync<long>("SELECT claimed FROM vouchers WHERE id = @voucherId", new { voucherId }));
        await viewer.WaitForAsync("voucherUpdated", e => e.GetProperty("remaining").GetInt32() == 0, TimeSpan.FromSeconds(10));

        // A late joiner (over MessagePack too) and the session API carry the voucher (sold out, still in its window).
        await using var late = await RoomClient.ConnectAsync(app, anonId: "late-joiner");
        await using var latePack = await RoomClient.ConnectAsync(app, anonId: "late-joiner-pack", messagePack: true);
        Assert.Equal(0, (await latePack.JoinAsync(show.SessionId)).GetProperty("activeVouchers")[0].GetProperty("remaining").GetInt32());
        var snapshot = await late.JoinAsync(show.SessionId);
        Assert.Equal(voucherId, snapshot.GetProperty("activeVouchers")[0].GetProperty("id").GetString());
        var session = await (await app.Client.GetAsync($"/api/live/sessions/{show.SessionId}", Ct)).JsonAsync();
        Assert.Equal(0, session.GetProperty("activeVouchers")[0].GetProperty("remaining").GetInt32());

        // The studio sees the claims.
        var report = await (await show.Seller.GetAsync($"/api/live/sessions/{show.SessionId}/vouchers", Ct)).JsonAsync();
        Assert.Equal(50, report.GetProperty("items")[0].GetProperty("claimed").GetInt32());
        Assert.Equal(0, report.GetProperty("items")[0].GetProperty("redeemed").GetInt32());
        show.Seller.Dispose();
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Forty_buyers_claiming_three_times_each_on_ten_with_limit_one_get_ten_claims_one_each(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        var show = await FlashSaleTests.OnAirAsync(app);
        var voucherId = (await DropAsync(show.Seller, show.SessionId, Terms(quantity: 10, perUserLimit: 1))).GetProperty("id").GetString()!;

        var results = await CrowdAsync(app, voucherId, 120, 40);

        Assert.Equal(10, results.Count(r => r.Status == HttpStatusCode.Created));
        Assert.Equal(10, results.Where(r => r.Status == HttpStatusCode.Created).Select(r => r.User).Distinct().Count());
        Assert.All(results.Where(r => r.Status != HttpStatusCode.Created), r => Assert.Contains(r.Code, new[] { "SOLD_OUT", "LIMIT_REACHED" }));
        Assert.Equal(10L, await app.ScalarAsync<long>("SELECT COUNT(DISTINCT user_id) FROM voucher_claims WHERE voucher_id = @voucherId", new { voucherId }));
        Assert.Equal(10L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM voucher_claims WHERE voucher_id = @voucherId", new { voucherId }));
        show.Seller.Dispose();
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_user_s_parallel_claims_stop_at_the_limit_and_a_retry_returns_the_same_claim(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        var show = await FlashSaleTests.OnAirAsync(app);
        var voucherId = (await DropAsync(show.Seller, show.SessionId, Terms(quantity: 10, perUserLimit: 2))).GetProperty("id").GetString()!;

        // Four users, thirty taps each with its own key: each gets exactly two.
        var results = await CrowdAsync(app, voucherId, 120, 4);
        Assert.Equal(8, results.Count(r => r.Status == HttpStatusCode.Created));
        Assert.All(Enumerable.Range(0, 4), u => Assert.Equal(2, results.Count(r => r.User == u && r.Status == HttpStatusCode.Created)));
        Assert.All(results.Where(r => r.Status != HttpStatusCode.Created), r => Assert.Equal("LIMIT_REACHED", r.Code));
        Assert.Equal(8L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM voucher_claims WHERE voucher_id = @voucherId", new { voucherId }));

        // A retry with the same key answers the first claim again: no second claim, the gate's count unchanged.
        var buyer = await app.TokenAsync("buyer-retry", "buyer");
        using var first = await ClaimAsync(app.Client, buyer, voucherId, "claim-key-1");
        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        var claimId = (await first.JsonAsync()).GetProperty("claimId").GetString();
        for (var i = 0; i < 3; i++)
        {
            using var again = await ClaimAsync(app.Client, buyer, voucherId, "claim-key-1");
            Assert.Equal(HttpStatusCode.Created, again.StatusCode);
            Assert.Equal(claimId, (await again.JsonAsync()).GetProperty("claimId").GetString());
        }

        Assert.Equal(1L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM voucher_claims WHERE user_id = 'buyer-retry'"));
        using var second = await ClaimAsync(app.Client, buyer, voucherId, "claim-key-2");
        Assert.Equal(HttpStatusCode.Created, second.StatusCode); // the limit of two still has room for exactly one more
        await (await ClaimAsync(app.Client, buyer, voucherId, "claim-key-3")).AssertProblemAsync(HttpStatusCode.Conflict, "LIMIT_REACHED");
        var read = await (await app.Client.GetAsync($"/api/vouchers/{voucherId}", Ct)).JsonAsync();
        Assert.Equal(0, read.GetProperty("remaining").GetInt32());
        show.Seller.Dispose();
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task An_order_spends_a_claim_once_and_refusals_change_nothing(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        var show = await FlashSaleTests.OnAirAsync(app, stock: 20, price: 1_000);
        using var otherSeller = await app.ClientAsAsync("seller-2", "seller");
        var otherProduct = (await otherSeller.CreateProductAsync(stock: 5, priceMinor: 1_000)).GetProperty("id").GetString()!;
        var idrResponse = await show.Seller.PostAsJsonAsync("/api/products", new { title = "Batik", priceMinor = 100_000, currency = "IDR", stock = 5 }, Ct);
        var idrProduct = (await idrResponse.JsonAsync()).GetProperty("id").GetString()!;
        var cheap = (await show.Seller.CreateProductAsync(stock: 5, priceMinor: 300)).GetProperty("id").GetString()!;
        var voucherId = (await DropAsync(show.Seller, show.SessionId, Terms(quantity: 5, perUserLimit: 2, discountMinor: 250, minSpendMinor: 500))).GetProperty("id").GetString()!;
        using var buyer = await app.ClientAsAsync("buyer-1", "buyer");
        var token = await app.TokenAsync("buyer-1", "buyer");
        var claimId = await ClaimIdAsync(app.Client, token, voucherId);
        var mine = (await (await buyer.GetAsync("/api/me/vouchers", Ct)).JsonAsync()).GetProperty("items");
        Assert.Equal(claimId, Assert.Single(mine.EnumerateArray()).GetProperty("claimId").GetString());

        async Task Refused(string productId, string? claim, HttpStatusCode status, string code)
        {
            var before = await app.ScalarAsync<long>("SELECT COUNT(*) FROM orders");
            await (await buyer.PlaceOrderAsync(productId, extra: new { productId, quantity = 1, claimId = claim })).AssertProblemAsync(status, code);
            Assert.Equal(before, await app.ScalarAsync<long>("SELECT COUNT(*) FROM orders"));
        }

        // Another seller's product, another currency, below the minimum spend, an unknown claim: refused, claim unused.
        await Refused(otherProduct, claimId, HttpStatusCode.Conflict, "VOUCHER_NOT_APPLICABLE");
        await Refused(idrProduct, claimId, HttpStatusCode.Conflict, "VOUCHER_NOT_APPLICABLE");
        await Refused(cheap, claimId, HttpStatusCode.Conflict, "VOUCHER_MIN_SPEND");
        await Refused(show.ProductId, "no-such-claim", HttpStatusCode.NotFound, "CLAIM_NOT_FOUND");
        Assert.Equal(5L, await app.ScalarAsync<long>("SELECT stock FROM products WHERE id = @cheap", new { cheap }));
        Assert.Equal(0L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM voucher_claims WHERE used_order_id IS NOT NULL"));

        // Someone else's claim is not found for this buyer.
        using var stranger = await app.ClientAsAsync("buyer-2", "buyer");
        await (await stranger.PlaceOrderAsync(show.ProductId, extra: new { productId = show.ProductId, quantity = 1, claimId }))
            .AssertProblemAsync(HttpStatusCode.NotFound, "CLAIM_NOT_FOUND");

        // The claim pays 250 off a 1000 order, once.
        var placed = await buyer.PlaceOrderAsync(show.ProductId, extra: new { productId = show.ProductId, quantity = 1, claimId });
        Assert.Equal(HttpStatusCode.Created, placed.StatusCode);
        var order = await placed.JsonAsync();
        Assert.Equal(750, order.GetProperty("totalMinor").GetInt64());
        Assert.Equal(250, order.GetProperty("discountMinor").GetInt64());
        var read = await (await buyer.GetAsync($"/api/orders/{order.GetProperty("id").GetString()}", Ct)).JsonAsync();
        Assert.Equal(250, read.GetProperty("discountMinor").GetInt64());
        await Refused(show.ProductId, claimId, HttpStatusCode.Conflict, "VOUCHER_USED");
        Assert.Equal(0, (await (await buyer.GetAsync("/api/me/vouchers", Ct)).JsonAsync()).GetProperty("items").GetArrayLength());

        // Two orders racing for one claim: exactly one spends it.
        var claim2 = await ClaimIdAsync(app.Client, token, voucherId);
        var race = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => Task.Run(async () =>
        {
            using var r = await buyer.PlaceOrderAsync(show.ProductId, extra: new { productId = show.ProductId, quantity = 1, claimId = claim2 });
            return (r.StatusCode, Code: r.StatusCode == HttpStatusCode.Created ? null : (await r.JsonAsync()).GetProperty("code").GetString());
        }, Ct)));
        Assert.Single(race, r => r.StatusCode == HttpStatusCode.Created);
        Assert.All(race.Where(r => r.StatusCode != HttpStatusCode.Created), r => Assert.Equal("VOUCHER_USED", r.Code));
        Assert.Equal(2L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM voucher_claims WHERE used_order_id IS NOT NULL"));
        Assert.Equal(18L, await app.ScalarAsync<long>("SELECT stock FROM products WHERE id = @id", new { id = show.ProductId }));
        var report = await (await show.Seller.GetAsync($"/api/live/sessions/{show.SessionId}/vouchers", Ct)).JsonAsync();
        Assert.Equal(2, report.GetProperty("items")[0].GetProperty("redeemed").GetInt32());

        // The show's stats and the seller's dashboard count the claims and their redemptions too.
        var stats = await (await show.Seller.GetAsync($"/api/live/sessions/{show.SessionId}/stats", Ct)).JsonAsync();
        Assert.Equal((2L, 2L), (stats.GetProperty("vouchersClaimed").GetInt64(), stats.GetProperty("vouchersRedeemed").GetInt64()));
        var claimOnly = await ClaimIdAsync(app.Client, await app.TokenAsync("buyer-3", "buyer"), voucherId);
        Assert.NotNull(claimOnly);
        var dashboard = await (await show.Seller.GetAsync("/api/sellers/me/analytics", Ct)).JsonAsync();
        var row = dashboard.GetProperty("shows").EnumerateArray().Single(r => r.GetProperty("sessionId").GetString() == show.SessionId);
        Assert.Equal((3L, 2L), (row.GetProperty("vouchersClaimed").GetInt64(), row.GetProperty("vouchersRedeemed").GetInt64()));
        Assert.Equal(3L, dashboard.GetProperty("total").GetProperty("vouchersClaimed").GetInt64());
        show.Seller.Dispose();
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Coins_with_a_voucher_are_capped_at_a_quarter_of_what_the_voucher_leaves(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        var show = await FlashSaleTests.OnAirAsync(app, stock: 5, price: 1_000);
        using var admin = await app.ClientAsAsync("admin-1", "admin");
        using var buyer = await app.ClientAsAsync("buyer-1", "buyer");
        await buyer.GetAsync("/api/me/coins", Ct);
        Assert.Equal(HttpStatusCode.Created, (await WalletTests.AdjustAsync(admin, "buyer-1", 500, "welcome-1")).StatusCode);
        var voucherId = (await DropAsync(show.Seller, show.SessionId, Terms(quantity: 5, discountMinor: 200))).GetProperty("id").GetString()!;
        var claimId = await ClaimIdAsync(app.Client, await app.TokenAsync("buyer-1", "buyer"), voucherId);

        // 1000 − 200 leaves 800, of which coins may pay 25 %: 201 coins is one too many, and the claim stays unused.
        await (await buyer.PlaceOrderAsync(show.ProductId, extra: new { productId = show.ProductId, quantity = 1, coinsToRedeem = 201, claimId }))
            .AssertProblemAsync(HttpStatusCode.UnprocessableEntity, "COINS_CAP_EXCEEDED");
        Assert.Equal(0L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM voucher_claims WHERE used_order_id IS NOT NULL"));
        var placed = await buyer.PlaceOrderAsync(show.ProductId, extra: new { productId = show.ProductId, quantity = 1, coinsToRedeem = 200, claimId });
        Assert.Equal(HttpStatusCode.Created, placed.StatusCode);
        var order = await placed.JsonAsync();
        Assert.Equal(600, order.GetProperty("totalMinor").GetInt64());
        Assert.Equal(200, order.GetProperty("coinsRedeemed").GetInt64());
        Assert.Equal(200, order.GetProperty("discountMinor").GetInt64());
        Assert.Equal(300, (await (await buyer.GetAsync("/api/me/coins", Ct)).JsonAsync()).GetProperty("balance").GetInt64());
        show.Seller.Dispose();
    }

    [Fact]
    public async Task A_voucher_cannot_be_claimed_after_its_window_and_its_claims_still_spend()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var app = await PasarApp.StartAsync(Backend.Embedded, services: s => s.AddSingleton<TimeProvider>(clock));
        var show = await FlashSaleTests.OnAirAsync(app, stock: 5, price: 1_000);
        var voucherId = (await DropAsync(show.Seller, show.SessionId, Terms(quantity: 5, durationSeconds: 60))).GetProperty("id").GetString()!;
        var early = await app.TokenAsync("buyer-early", "buyer");
        clock.Advance(TimeSpan.FromSeconds(59.9));
        var claimId = await ClaimIdAsync(app.Client, early, voucherId);
        clock.Advance(TimeSpan.FromSeconds(0.1)); // exactly endsAt: closed
        await (await ClaimAsync(app.Client, await app.TokenAsync("buyer-late", "buyer"), voucherId)).AssertProblemAsync(HttpStatusCode.Conflict, "VOUCHER_EXPIRED");
        Assert.Equal(1L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM voucher_claims WHERE voucher_id = @voucherId", new { voucherId }));
        Assert.Equal("ended", (await (await app.Client.GetAsync($"/api/vouchers/{voucherId}", Ct)).JsonAsync()).GetProperty("status").GetString());
        var session = await (await app.Client.GetAsync($"/api/live/sessions/{show.SessionId}", Ct)).JsonAsync();
        Assert.Equal(0, session.GetProperty("activeVouchers").GetArrayLength());

        using var buyer = await app.ClientAsAsync("buyer-early", "buyer");
        var placed = await buyer.PlaceOrderAsync(show.ProductId, extra: new { productId = show.ProductId, quantity = 1, claimId });
        Assert.Equal(HttpStatusCode.Created, placed.StatusCode);
        Assert.Equal(800, (await placed.JsonAsync()).GetProperty("totalMinor").GetInt64());
        show.Seller.Dispose();
    }

    [Fact]
    public async Task Two_nodes_share_one_gate()
    {
        await using var nodeA = await PasarApp.StartAsync(Backend.Scaled);
        await using var nodeB = await PasarApp.StartAsync(Backend.Scaled, shareSettings: new(nodeA.Settings));
        var show = await FlashSaleTests.OnAirAsync(nodeA);
        var voucherId = (await DropAsync(show.Seller, show.SessionId, Terms(quantity: 50, perUserLimit: 2))).GetProperty("id").GetString()!;

        var results = await CrowdAsync(nodeA, voucherId, 400, 100, nodeB);

        Assert.Equal(50, results.Count(r => r.Status == HttpStatusCode.Created));
        Assert.All(results.Where(r => r.Status != HttpStatusCode.Created), r => Assert.Contains(r.Code, new[] { "SOLD_OUT", "LIMIT_REACHED" }));
        Assert.All(results.Where(r => r.Status == HttpStatusCode.Created).GroupBy(r => r.User), g => Assert.True(g.Count() <= 2));
        Assert.Equal(50L, await nodeB.ScalarAsync<long>("SELECT COUNT(*) FROM voucher_claims WHERE voucher_id = @voucherId", new { voucherId }));

        // Forty buyers, three taps each, through both nodes, on ten with a limit of one: ten claims, one each.
        var small = (await DropAsync(show.Seller, show.SessionId, Terms(quantity: 10, perUserLimit: 1))).GetProperty("id").GetString()!;
        var burst = await CrowdAsync(nodeB, small, 120, 40, nodeA);
        Assert.Equal(10, burst.Count(r => r.Status == HttpStatusCode.Created));
        Assert.Equal(10, burst.Where(r => r.Status == HttpStatusCode.Created).Select(r => r.User).Distinct().Count());
        Assert.Equal(10L, await nodeA.ScalarAsync<long>("SELECT COUNT(DISTINCT user_id) FROM voucher_claims WHERE voucher_id = @small", new { small }));
        show.Seller.Dispose();
    }

    private static readonly (string Body, string Field)[] BadDrops =
    [
        ("""{"currency":"SGD","quantity":5}""", "discountMinor"),
        ("""{"discountMinor":0,"currency":"SGD","quantity":5}""", "discountMinor"),
        ("""{"discountMinor":100,"currency":"sgd","quantity":5}""", "currency"),
        ("""{"discountMinor":100,"currency":"SGD","quantity":0}""", "quantity"),
        ("""{"discountMinor":100,"currency":"SGD","quantity":5,"perUserLimit":0}""", "perUserLimit"),
        ("""{"discountMinor":100,"currency":"SGD","quantity":5,"minSpendMinor":-1}""", "minSpendMinor"),
        ("""{"discountMinor":100,"currency":"SGD","quantity":5,"durationSeconds":5}""", "durationSeconds"),
    ];

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Bad_input_is_refused_with_its_field_and_changes_nothing(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        var show = await FlashSaleTests.OnAirAsync(app);
        foreach (var (body, field) in BadDrops)
        {
            using var response = await show.Seller.PostAsync($"/api/live/sessions/{show.SessionId}/vouchers", new StringContent(body, System.Text.Encoding.UTF8, "application/json"), Ct);
            var problem = await response.AssertProblemAsync(HttpStatusCode.BadRequest, "VALIDATION_FAILED");
            Assert.True(problem.GetProperty("errors").TryGetProperty(field, out _), body + " -> " + problem);
        }

        Assert.Equal(0L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM vouchers"));
        var voucherId = (await DropAsync(show.Seller, show.SessionId, Terms())).GetProperty("id").GetString()!;
        using var buyer = await app.ClientAsAsync("buyer-1", "buyer");
        await (await buyer.PlaceOrderAsync(show.ProductId, extra: new { productId = show.ProductId, quantity = 1, claimId = new string('x', 65) }))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "VALIDATION_FAILED");
        Assert.Equal(0L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM orders"));
        Assert.Equal(50, (await (await app.Client.GetAsync($"/api/vouchers/{voucherId}", Ct)).JsonAsync()).GetProperty("remaining").GetInt32());
        show.Seller.Dispose();
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Only_the_owner_drops_only_while_live_and_unknown_vouchers_are_not_found(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        var show = await FlashSaleTests.OnAirAsync(app);
        using var other = await app.ClientAsAsync("seller-2", "seller");
        await (await other.PostAsJsonAsync($"/api/live/sessions/{show.SessionId}/vouchers", Terms(), Ct)).AssertProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        await (await other.GetAsync($"/api/live/sessions/{show.SessionId}/vouchers", Ct)).AssertProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        var notLive = await ChatTests.CreateSessionAsync(show.Seller);
        await (await show.Seller.PostAsJsonAsync($"/api/live/sessions/{notLive}/vouchers", Terms(), Ct)).AssertProblemAsync(HttpStatusCode.Conflict, "SESSION_NOT_LIVE");
        await (await show.Seller.PostAsJsonAsync("/api/live/sessions/no-such-session/vouchers", Terms(), Ct)).AssertProblemAsync(HttpStatusCode.NotFound, "SESSION_NOT_FOUND");
        await (await ClaimAsync(app.Client, await app.TokenAsync("buyer-1", "buyer"), "no-such-voucher")).AssertProblemAsync(HttpStatusCode.NotFound, "VOUCHER_NOT_FOUND");
        var voucherId = (await DropAsync(show.Seller, show.SessionId, Terms())).GetProperty("id").GetString()!;
        await (await ClaimAsync(app.Client, await app.TokenAsync("buyer-1", "buyer"), voucherId, "bad key with spaces")).AssertProblemAsync(HttpStatusCode.BadRequest, "VALIDATION_FAILED");
        Assert.Equal(1L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM vouchers"));
        Assert.Equal(0L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM voucher_claims"));
        show.Seller.Dispose();
    }

    [Fact]
    public async Task The_routes_are_in_OpenAPI()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        var paths = JsonDocument.Parse(await app.Client.GetStringAsync("/openapi/v1.json", Ct)).RootElement.GetProperty("paths");
        Assert.True(paths.GetProperty("/api/live/sessions/{id}/vouchers").TryGetProperty("post", out _));
        Assert.True(paths.GetProperty("/api/live/sessions/{id}/vouchers").TryGetProperty("get", out _));
        Assert.True(paths.GetProperty("/api/vouchers/{id}/claims").TryGetProperty("post", out _));
        Assert.True(paths.GetProperty("/api/vouchers/{id}").TryGetProperty("get", out _));
        Assert.True(paths.GetProperty("/api/me/vouchers").TryGetProperty("get", out _));
    }
}
