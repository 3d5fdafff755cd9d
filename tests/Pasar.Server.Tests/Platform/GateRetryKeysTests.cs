using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Pasar.Server.Auctions;
using Pasar.Server.FlashSales;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Redis;
using Pasar.Server.Tests.Auctions;
using Pasar.Server.Tests.FlashSales;
using Pasar.Server.Tests.Infrastructure;
using Pasar.Server.Tests.Vouchers;
using Pasar.Server.Vouchers;

namespace Pasar.Server.Tests.Platform;

/// <summary>
/// The gates tell a retry from a new attempt by the Idempotency-Keys they let through (GateRetryKeys): a refusal
/// whose key never passed is answered by the gate alone (no SQL look-up on the hot path), one whose key passed is
/// replayed from SQL, and when the hot state is lost the gate falls back to asking SQL rather than refusing a retry.
/// </summary>
public sealed class GateRetryKeysTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_refused_voucher_claim_is_a_retry_only_when_its_key_passed_and_a_lost_gate_asks_SQL(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        var show = await FlashSaleTests.OnAirAsync(app);
        var voucherId = (await VoucherTests.DropAsync(show.Seller, show.SessionId,
            new { discountMinor = 200, currency = "SGD", quantity = 10, perUserLimit = 1, durationSeconds = 300 })).GetProperty("id").GetString()!;
        var token = await app.TokenAsync("buyer-k", "buyer");
        string claimId;
        using (var first = await VoucherTests.ClaimAsync(app.Client, token, voucherId, "key-1"))
        {
            Assert.Equal(HttpStatusCode.Created, first.StatusCode);
            claimId = (await first.JsonAsync()).GetProperty("claimId").GetString()!;
        }

        var gate = app.Services.GetRequiredService<VoucherGate>();
        Assert.Equal(VoucherGate.Result.LimitReached, await gate.TryTakeAsync(voucherId, "buyer-k", 1, "key-2", Ct));
        Assert.Equal(VoucherGate.Result.LimitReached, await gate.TryTakeAsync(voucherId, "buyer-k", 1, null, Ct));
        Assert.Equal(VoucherGate.Result.LimitReachedMaybeRetry, await gate.TryTakeAsync(voucherId, "buyer-k", 1, "key-1", Ct));
        await AssertVoucherRetryAsync();

        // The hot state is lost: the rebuilt gate knows the buyer claimed but not with which key, so SQL decides.
        var db = app.Services.GetRequiredService<HotStore>().Database;
        await db.KeyDeleteAsync([$"voucher:{voucherId}:remaining", $"voucher:{voucherId}:claimers", GateRetryKeys.Set($"voucher:{voucherId}", "buyer-k")]);
        Assert.Equal(VoucherGate.Result.LimitReachedMaybeRetry, await gate.TryTakeAsync(voucherId, "buyer-k", 1, "key-2", Ct));
        await AssertVoucherRetryAsync();
        Assert.Equal(1L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM voucher_claims WHERE user_id = 'buyer-k'"));
        show.Seller.Dispose();

        async Task AssertVoucherRetryAsync()
        {
            using var retry = await VoucherTests.ClaimAsync(app.Client, token, voucherId, "key-1");
            Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
            Assert.Equal(claimId, (await retry.JsonAsync()).GetProperty("claimId").GetString());
            await (await VoucherTests.ClaimAsync(app.Client, token, voucherId, "key-2")).AssertProblemAsync(HttpStatusCode.Conflict, "LIMIT_REACHED");
        }
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_refused_flash_purchase_is_a_retry_only_when_its_key_passed_and_a_lost_gate_asks_SQL(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        var show = await FlashSaleTests.OnAirAsync(app);
        var saleId = (await FlashSaleTests.StartSaleAsync(show.Seller, show.SessionId,
            new { productId = show.ProductId, salePriceMinor = 5_000, quantity = 10, durationSeconds = 300, perUserLimit = 1 })).GetProperty("id").GetString()!;
        var token = await app.TokenAsync("buyer-f", "buyer");
        string orderId;
        using (var first = await FlashSaleTests.BuyAsync(app.Client, token, saleId, key: "buy-1"))
        {
            Assert.Equal(HttpStatusCode.Created, first.StatusCode);
            orderId = (await first.JsonAsync()).GetProperty("id").GetString()!;
        }

        var gate = app.Services.GetRequiredService<FlashSaleGate>();
        Assert.Equal(FlashSaleGate.Result.LimitReached, (await gate.TryTakeAsync(saleId, "buyer-f", 1, 1, "buy-2", Ct)).Result);
        Assert.Equal(FlashSaleGate.Result.LimitReachedMaybeRetry, (await gate.TryTakeAsync(saleId, "buyer-f", 1, 1, "buy-1", Ct)).Result);
        await AssertFlashRetryAsync();

        var db = app.Services.GetRequiredService<HotStore>().Database;
        await db.KeyDeleteAsync([$"flash:{saleId}:remaining", $"flash:{saleId}:buyers", GateRetryKeys.Set($"flash:{saleId}", "buyer-f")]);
        Assert.Equal(FlashSaleGate.Result.LimitReachedMaybeRetry, (await gate.TryTakeAsync(saleId, "buyer-f", 1, 1, "buy-2", Ct)).Result);
        await AssertFlashRetryAsync();
        Assert.Equal(1L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM orders WHERE flash_sale_id = @saleId", new { saleId }));
        show.Seller.Dispose();

        async Task AssertFlashRetryAsync()
        {
            using var retry = await FlashSaleTests.BuyAsync(app.Client, token, saleId, key: "buy-1");
            Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
            Assert.Equal(orderId, (await retry.JsonAsync()).GetProperty("id").GetString());
            await (await FlashSaleTests.BuyAsync(app.Client, token, saleId, key: "buy-2")).AssertProblemAsync(HttpStatusCode.Conflict, "LIMIT_REACHED");
        }
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_refused_bid_is_a_retry_only_when_its_key_passed_and_a_gate_rebuilt_after_bids_asks_SQL(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        var show = await FlashSaleTests.OnAirAsync(app);
        var auctionId = await AuctionTests.StartedIdAsync(show.Seller, show.SessionId,
            new { productId = show.ProductId, startPriceMinor = 1_000, incrementMinor = 100, durationSeconds = 120, antiSnipeSeconds = 10 });
        var dimas = await app.TokenAsync("bidder-d", "buyer");
        string bidId;
        using (var first = await AuctionTests.BidAsync(app.Client, dimas, auctionId, 1_000, "bid-1"))
        {
            Assert.Equal(HttpStatusCode.Created, first.StatusCode);
            bidId = (await first.JsonAsync()).GetProperty("id").GetString()!;
        }

        var gate = app.Services.GetRequiredService<AuctionGate>();
        var now = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        var again = await gate.TryBidAsync(auctionId, "bidder-d", 1_100, now, Ids.New(), "bid-2", Ct);
        Assert.Equal((AuctionGate.Result.AlreadyHighest, false), (again.Result, again.MayBeRetry));
        var retried = await gate.TryBidAsync(auctionId, "bidder-d", 1_000, now, Ids.New(), "bid-1", Ct);
        Assert.Equal((AuctionGate.Result.AlreadyHighest, true), (retried.Result, retried.MayBeRetry));
        var stranger = await gate.TryBidAsync(auctionId, "bidder-e", 500, now, Ids.New(), "bid-e", Ct); // never had a bid accepted
        Assert.Equal((AuctionGate.Result.TooLow, false), (stranger.Result, stranger.MayBeRetry));
        await AssertBidRetryAsync();

        // Rebuilt from SQL after bids were accepted: who bid with which key is unknown, so SQL decides.
        var db = app.Services.GetRequiredService<HotStore>().Database;
        await db.KeyDeleteAsync([$"auction:{auctionId}:gate", GateRetryKeys.Set($"auction:{auctionId}", "bidder-d")]);
        var unknown = await gate.TryBidAsync(auctionId, "bidder-e", 500, DateTimeOffset.UtcNow.ToUnixTimeMilliseconds(), Ids.New(), "bid-e", Ct);
        Assert.Equal((AuctionGate.Result.TooLow, true), (unknown.Result, unknown.MayBeRetry));
        await AssertBidRetryAsync();
        Assert.Equal(1L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM auction_bids WHERE auction_id = @auctionId", new { auctionId }));
        show.Seller.Dispose();

        async Task AssertBidRetryAsync()
        {
            using var retry = await AuctionTests.BidAsync(app.Client, dimas, auctionId, 1_000, "bid-1");
            Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
            Assert.Equal(bidId, (await retry.JsonAsync()).GetProperty("id").GetString());
            await (await AuctionTests.BidAsync(app.Client, dimas, auctionId, 1_100, "bid-2")).AssertProblemAsync(HttpStatusCode.Conflict, "ALREADY_HIGHEST");
        }
    }
}
