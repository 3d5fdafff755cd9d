using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Pasar.Server.Platform.Auth;
using Pasar.Server.Tests.FlashSales;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.Auctions;

/// <summary>Live auctions (SPEC §15, ADR 0021): bids totally ordered by the gate and SQL, anti-snipe, one order at the end.</summary>
public sealed class AuctionTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    internal static async Task<HttpResponseMessage> StartAsync(HttpClient seller, string sessionId, object body, string? key = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/live/sessions/{sessionId}/auctions") { Content = JsonContent.Create(body) };
        request.Headers.Add("Idempotency-Key", key ?? Guid.NewGuid().ToString("N"));
        return await seller.SendAsync(request, Ct);
    }

    internal static async Task<string> StartedIdAsync(HttpClient seller, string sessionId, object body)
    {
        using var response = await StartAsync(seller, sessionId, body);
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync(Ct));
        return (await response.JsonAsync()).GetProperty("id").GetString()!;
    }

    internal static Task<HttpResponseMessage> BidAsync(HttpClient http, string token, string auctionId, long amountMinor, string? key = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/api/auctions/{auctionId}/bids") { Content = JsonContent.Create(new { amountMinor }) };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Add("Idempotency-Key", key ?? Guid.NewGuid().ToString("N"));
        return http.SendAsync(request, Ct);
    }

    internal static async Task<JsonElement> GetAsync(PasarApp app, string auctionId) =>
        await (await app.Client.GetAsync($"/api/auctions/{auctionId}", Ct)).JsonAsync();

    private static object Terms(string productId, long start = 1_000, long increment = 100, int duration = 60, int antiSnipe = 10) =>
        new { productId, startPriceMinor = start, incrementMinor = increment, durationSeconds = duration, antiSnipeSeconds = antiSnipe };

    private static async Task<JsonElement> ClosedAsync(PasarApp app, string auctionId)
    {
        JsonElement auction = default;
        await PasarApp.EventuallyAsync(async () => (auction = await GetAsync(app, auctionId)).GetProperty("status").GetString() != "open",
            TimeSpan.FromSeconds(15), "the auction to close");
        return auction;
    }

    /// <summary>
    /// Waves of parallel bids from 30 buyers through the given nodes. In each wave every buyer but the current highest
    /// bids the highest plus one to three increments at once, so most of a wave collides on the same few amounts.
    /// </summary>
    private static async Task<List<(string Buyer, long Amount, HttpStatusCode Status, string? Code, string? BidId)>> WavesAsync(
        string auctionId, int waves, long increment, PasarApp[] nodes)
    {
        var keys = nodes[0].Services.GetRequiredService<TokenKeys>();
        var buyers = Enumerable.Range(0, 30).Select(i => (Id: $"bidder-{i}", Token: keys.Issue($"bidder-{i}", "buyer", $"Bidder {i}"))).ToArray();
        var clients = nodes.Select(n => new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 32 }) { BaseAddress = n.BaseAddress }).ToArray();
        var results = new List<(string, long, HttpStatusCode, string?, string?)>();
        for (var wave = 0; wave < waves; wave++)
        {
            var state = await GetAsync(nodes[0], auctionId);
            var highest = state.GetProperty("highestBidMinor").ValueKind == JsonValueKind.Number ? state.GetProperty("highestBidMinor").GetInt64() : 0;
            var leader = state.GetProperty("highestBidderId").GetString();
            var floor = highest == 0 ? state.GetProperty("startPriceMinor").GetInt64() : highest + increment;
            var go = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var bag = new ConcurrentBag<(string, long, HttpStatusCode, string?, string?)>();
            var tasks = buyers.Where(b => b.Id != leader).Select((b, n) => Task.Run(async () =>
            {
                await go.Task;
                var amount = floor + (n % 3 * increment);
                using var response = await BidAsync(clients[n % clients.Length], b.Token, auctionId, amount);
                var body = await response.JsonAsync();
                bag.Add(response.StatusCode == HttpStatusCode.Created
                    ? (b.Id, amount, response.StatusCode, null, body.GetProperty("id").GetString())
                    : (b.Id, amount, response.StatusCode, body.GetProperty("code").GetString(), null));
            }, Ct)).ToList();
            go.SetResult();
            await Task.WhenAll(tasks);
            results.AddRange(bag);
        }

        foreach (var client in clients)
        {
            client.Dispose();
        }

        return results;
    }

    private static async Task AssertTotallyOrderedAsync(PasarApp app, string auctionId, long increment,
        List<(string Buyer, long Amount, HttpStatusCode Status, string? Code, string? BidId)> results)
    {
        var accepted = results.Where(r => r.Status == HttpStatusCode.Created).ToList();
        Assert.NotEmpty(accepted);
        Assert.All(results.Where(r => r.Status != HttpStatusCode.Created), r =>
        {
            Assert.Equal(HttpStatusCode.Conflict, r.Status);
            Assert.Contains(r.Code, new[] { "BID_TOO_LOW", "AUCTION_ENDED" });
        });
        // SQL's record, in the order it accepted the bids: strictly increasing by at least the increment, no two
        // the same, and exactly the bids that were told 201.
        var rows = await app.QueryAsync<(string Id, string BidderId, long AmountMinor)>(
            "SELECT id AS Id, bidder_id AS BidderId, amount_minor AS AmountMinor FROM auction_bids WHERE auction_id = @auctionId ORDER BY placed_at, amount_minor",
            new { auctionId });
        Assert.Equal(accepted.Select(a => a.BidId).Order(), rows.Select(r => r.Id).Order());
        for (var i = 1; i < rows.Count; i++)
        {
            Assert.True(rows[i].AmountMinor >= rows[i - 1].AmountMinor + increment, $"bid {i}: {rows[i].AmountMinor} after {rows[i - 1].AmountMinor}");
            Assert.NotEqual(rows[i].BidderId, rows[i - 1].BidderId);
        }

        var auction = await GetAsync(app, auctionId);
        Assert.Equal(accepted.Max(a => a.Amount), auction.GetProperty("highestBidMinor").GetInt64());
        Assert.Equal(rows[^1].BidderId, auction.GetProperty("highestBidderId").GetString());
        Assert.Equal(rows.Count, auction.GetProperty("bids").GetInt32());
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Bid_waves_from_thirty_buyers_are_totally_ordered_and_the_end_makes_one_order_at_the_winning_price(Backend backend)
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var app = await PasarApp.StartAsync(backend, services: s => s.AddSingleton<TimeProvider>(clock));
        var show = await FlashSaleTests.OnAirAsync(app, stock: 5, price: 50_000);
        await using var viewer = await RoomClient.ConnectAsync(app, anonId: "auction-viewer");
        await viewer.JoinAsync(show.SessionId);
        var auctionId = await StartedIdAsync(show.Seller, show.SessionId, Terms(show.ProductId, start: 1_000, increment: 100));
        Assert.Equal(auctionId, (await viewer.NextAsync("auctionStarted")).GetProperty("id").GetString());
        Assert.Equal(4L, await app.ScalarAsync<long>("SELECT stock FROM products WHERE id = @id", new { id = show.ProductId })); // one unit taken at start

        var results = await WavesAsync(auctionId, 6, 100, [app]);
        await AssertTotallyOrderedAsync(app, auctionId, 100, results);
        var highest = results.Where(r => r.Status == HttpStatusCode.Created).MaxBy(r => r.Amount);
        // The room saw the final highest bid, with its bidder's name.
        var update = await viewer.WaitForAsync("auctionUpdated", e => e.GetProperty("highestBidMinor").GetInt64() == highest.Amount, TimeSpan.FromSeconds(10));
        Assert.Equal("Bidder " + highest.Buyer["bidder-".Length..], update.GetProperty("bidderName").GetString());

        // A late joiner gets the running auction in its snapshot.
        await using var late = await RoomClient.ConnectAsync(app, anonId: "auction-late");
        Assert.Equal(highest.Amount, (await late.JoinAsync(show.SessionId)).GetProperty("activeAuction").GetProperty("highestBidMinor").GetInt64());

        clock.Advance(TimeSpan.FromSeconds(61));
        var closed = await ClosedAsync(app, auctionId);
        Assert.Equal("sold", closed.GetProperty("status").GetString());
        var orderId = closed.GetProperty("orderId").GetString()!;
        var ended = await viewer.NextAsync("auctionEnded");
        Assert.Equal(highest.Buyer, ended.GetProperty("winnerId").GetString());

        var orders = await app.QueryAsync<(string Id, string BuyerId, long TotalMinor)>(
            "SELECT id AS Id, buyer_id AS BuyerId, total_minor AS TotalMinor FROM orders WHERE product_id = @id", new { id = show.ProductId });
        Assert.Equal([(orderId, highest.Buyer, highest.Amount)], orders);
        Assert.Equal(4L, await app.ScalarAsync<long>("SELECT stock FROM products WHERE id = @id", new { id = show.ProductId })); // the unit is the order's

        // The winner finds it in /me.
        using var winner = await app.ClientAsAsync(highest.Buyer, "buyer");
        var mine = await (await winner.GetAsync("/api/me/orders", Ct)).JsonAsync();
        Assert.Contains(mine.GetProperty("items").EnumerateArray(), o => o.GetProperty("id").GetString() == orderId);
        show.Seller.Dispose();
    }

    [Fact]
    public async Task Bid_waves_through_two_nodes_share_one_order()
    {
        await using var nodeA = await PasarApp.StartAsync(Backend.Scaled);
        await using var nodeB = await PasarApp.StartAsync(Backend.Scaled, shareSettings: new(nodeA.Settings));
        var show = await FlashSaleTests.OnAirAsync(nodeA, stock: 3);
        var auctionId = await StartedIdAsync(show.Seller, show.SessionId, Terms(show.ProductId, start: 500, increment: 50));

        var results = await WavesAsync(auctionId, 5, 50, [nodeA, nodeB]);

        await AssertTotallyOrderedAsync(nodeB, auctionId, 50, results);
        show.Seller.Dispose();
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_bid_in_the_last_seconds_moves_the_end_and_a_bid_after_it_is_refused(Backend backend)
    {
        var clock = new FakeTimeProvider(DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds())); // times are kept in ms
        await using var app = await PasarApp.StartAsync(backend, services: s => s.AddSingleton<TimeProvider>(clock));
        var show = await FlashSaleTests.OnAirAsync(app, stock: 2);
        var started = clock.GetUtcNow();
        var auctionId = await StartedIdAsync(show.Seller, show.SessionId, Terms(show.ProductId, start: 1_000, increment: 100, duration: 60, antiSnipe: 10));
        var (ana, budi) = (await app.TokenAsync("ana", "buyer", "Ana"), await app.TokenAsync("budi", "buyer", "Budi"));

        // Early bids leave the end where it was.
        Assert.Equal(HttpStatusCode.Created, (await BidAsync(app.Client, ana, auctionId, 1_000)).StatusCode);
        Assert.Equal(started.AddSeconds(60), (await GetAsync(app, auctionId)).GetProperty("endsAt").GetDateTimeOffset());

        // With 5 s left, a bid moves the end to now + 10 s; with 1 s left of that, again.
        clock.Advance(TimeSpan.FromSeconds(55));
        var snipe = await (await BidAsync(app.Client, budi, auctionId, 1_100)).JsonAsync();
        Assert.Equal(started.AddSeconds(65), snipe.GetProperty("endsAt").GetDateTimeOffset());
        clock.Advance(TimeSpan.FromSeconds(9));
        var answer = await (await BidAsync(app.Client, ana, auctionId, 1_300)).JsonAsync();
        Assert.Equal(started.AddSeconds(74), answer.GetProperty("endsAt").GetDateTimeOffset());
        Assert.Equal(started.AddSeconds(74), (await GetAsync(app, auctionId)).GetProperty("endsAt").GetDateTimeOffset());

        // At the end nothing more is taken, and the highest bid wins.
        clock.Advance(TimeSpan.FromSeconds(10));
        await (await BidAsync(app.Client, budi, auctionId, 5_000)).AssertProblemAsync(HttpStatusCode.Conflict, "AUCTION_ENDED");
        var closed = await ClosedAsync(app, auctionId);
        Assert.Equal("sold", closed.GetProperty("status").GetString());
        Assert.Equal(1_300, closed.GetProperty("highestBidMinor").GetInt64());
        Assert.Equal([1_300L], await app.QueryAsync<long>("SELECT total_minor FROM orders WHERE product_id = @id AND buyer_id = 'ana'", new { id = show.ProductId }));
        Assert.Equal(1L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM orders WHERE product_id = @id", new { id = show.ProductId }));
        show.Seller.Dispose();
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task The_rules_are_kept_and_every_refusal_changes_nothing(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        var show = await FlashSaleTests.OnAirAsync(app, stock: 3);
        var terms = Terms(show.ProductId, start: 1_000, increment: 100);

        // Start: a retried start is the same auction and takes one unit; a second auction waits for the first.
        using var first = await StartAsync(show.Seller, show.SessionId, terms, key: "start-1");
        using var retried = await StartAsync(show.Seller, show.SessionId, terms, key: "start-1");
        var auctionId = (await first.JsonAsync()).GetProperty("id").GetString()!;
        Assert.Equal(auctionId, (await retried.JsonAsync()).GetProperty("id").GetString());
        await (await StartAsync(show.Seller, show.SessionId, terms)).AssertProblemAsync(HttpStatusCode.Conflict, "AUCTION_ACTIVE");
        Assert.Equal(2L, await app.ScalarAsync<long>("SELECT stock FROM products WHERE id = @id", new { id = show.ProductId }));

        var ana = await app.TokenAsync("ana", "buyer", "Ana");
        var budi = await app.TokenAsync("budi", "buyer", "Budi");
        var low = await (await BidAsync(app.Client, ana, auctionId, 999)).AssertProblemAsync(HttpStatusCode.Conflict, "BID_TOO_LOW");
        Assert.Equal(1_000, low.GetProperty("minimumBidMinor").GetInt64());

        // A retried bid is the same bid, not a second one, and not a bid against yourself.
        using var bid = await BidAsync(app.Client, ana, auctionId, 1_000, key: "bid-1");
        using var again = await BidAsync(app.Client, ana, auctionId, 1_000, key: "bid-1");
        Assert.Equal(HttpStatusCode.Created, again.StatusCode);
        Assert.Equal((await bid.JsonAsync()).GetProperty("id").GetString(), (await again.JsonAsync()).GetProperty("id").GetString());
        await (await BidAsync(app.Client, ana, auctionId, 1_500)).AssertProblemAsync(HttpStatusCode.Conflict, "ALREADY_HIGHEST");
        var under = await (await BidAsync(app.Client, budi, auctionId, 1_099)).AssertProblemAsync(HttpStatusCode.Conflict, "BID_TOO_LOW");
        Assert.Equal(1_100, under.GetProperty("minimumBidMinor").GetInt64());

        // The seller cannot bid; bad input names its field; unknown auctions are not found.
        await (await BidAsync(app.Client, await app.TokenAsync("seller-1", "seller"), auctionId, 5_000)).AssertProblemAsync(HttpStatusCode.Forbidden, "OWN_AUCTION");
        await (await BidAsync(app.Client, budi, auctionId, 0)).AssertProblemAsync(HttpStatusCode.BadRequest, "VALIDATION_FAILED");
        await (await BidAsync(app.Client, budi, "no-such-auction", 5_000)).AssertProblemAsync(HttpStatusCode.NotFound, "AUCTION_NOT_FOUND");
        await (await app.Client.GetAsync("/api/auctions/no-such-auction", Ct)).AssertProblemAsync(HttpStatusCode.NotFound, "AUCTION_NOT_FOUND");

        var auction = await GetAsync(app, auctionId);
        Assert.Equal(1, auction.GetProperty("bids").GetInt32());
        Assert.Equal(1_000, auction.GetProperty("highestBidMinor").GetInt64());
        Assert.Equal("ana", auction.GetProperty("highestBidderId").GetString());
        Assert.Equal(1L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM auction_bids WHERE auction_id = @auctionId", new { auctionId }));

        // Starting: only the owner, only live, only their product, with valid terms.
        using var other = await app.ClientAsAsync("seller-2", "seller");
        await (await StartAsync(other, show.SessionId, terms)).AssertProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        await (await StartAsync(show.Seller, show.SessionId, new { productId = show.ProductId, startPriceMinor = 0, incrementMinor = 100 }))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "VALIDATION_FAILED");
        await (await StartAsync(show.Seller, "no-such-session", terms)).AssertProblemAsync(HttpStatusCode.NotFound, "SESSION_NOT_FOUND");
        Assert.Equal(2L, await app.ScalarAsync<long>("SELECT stock FROM products WHERE id = @id", new { id = show.ProductId }));
        Assert.Equal(1L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM auctions WHERE session_id = @id", new { id = show.SessionId }));
        show.Seller.Dispose();
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task An_auction_without_a_bid_returns_its_unit_and_makes_room_for_the_next(Backend backend)
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var app = await PasarApp.StartAsync(backend, services: s => s.AddSingleton<TimeProvider>(clock));
        var show = await FlashSaleTests.OnAirAsync(app, stock: 1);
        var auctionId = await StartedIdAsync(show.Seller, show.SessionId, Terms(show.ProductId, duration: 30));
        Assert.Equal(0L, await app.ScalarAsync<long>("SELECT stock FROM products WHERE id = @id", new { id = show.ProductId }));
        await (await StartAsync(show.Seller, show.SessionId, Terms(show.ProductId))).AssertProblemAsync(HttpStatusCode.Conflict, "AUCTION_ACTIVE");

        clock.Advance(TimeSpan.FromSeconds(30));
        var closed = await ClosedAsync(app, auctionId);
        Assert.Equal("unsold", closed.GetProperty("status").GetString());
        Assert.Equal(JsonValueKind.Null, closed.GetProperty("orderId").ValueKind);
        Assert.Equal(1L, await app.ScalarAsync<long>("SELECT stock FROM products WHERE id = @id", new { id = show.ProductId }));
        Assert.Equal(0L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM orders WHERE product_id = @id", new { id = show.ProductId }));

        // The unit back in stock can go into the next auction.
        await StartedIdAsync(show.Seller, show.SessionId, Terms(show.ProductId));
        Assert.Equal(0L, await app.ScalarAsync<long>("SELECT stock FROM products WHERE id = @id", new { id = show.ProductId }));
        show.Seller.Dispose();
    }

    [Fact]
    public async Task The_routes_are_in_OpenAPI()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        var doc = await (await app.Client.GetAsync("/openapi/v1.json", Ct)).JsonAsync();
        var paths = doc.GetProperty("paths");
        Assert.True(paths.TryGetProperty("/api/live/sessions/{id}/auctions", out _));
        Assert.True(paths.TryGetProperty("/api/auctions/{id}", out _));
        Assert.True(paths.TryGetProperty("/api/auctions/{id}/bids", out _));
    }
}
