using System.Data.Common;
using Dapper;
using Pasar.Server.Catalog;
using Pasar.Server.Coins;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Events;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Orders;

/// <summary>What to place: a catalog order, or (with a sale price and id) a flash-sale order.</summary>
internal sealed record OrderDraft(
    string BuyerId, string ProductId, int Quantity, long CoinsToRedeem, string? Ref, string? FlashSaleId = null, long? UnitPriceMinor = null, bool StockAlreadyReserved = false,
    string? ClaimId = null, string? SessionId = null);

/// <summary>
/// Whether an order may name a live session as where it was bought (a replay's product card, ADR 0024): the session
/// exists, went on air, and is the product's seller's. LiveRoom implements it, so Orders depends on no live module.
/// </summary>
internal interface IOrderSessions
{
    /// <summary>Null when the session may be named, else the refusal.</summary>
    Task<OrderRefusal?> CheckAsync(string sessionId, string sellerId, CancellationToken ct);
}

/// <summary>What a discount may apply to: the order's seller, currency and subtotal (before coins).</summary>
internal sealed record DiscountTarget(string BuyerId, string SellerId, string Currency, long SubtotalMinor, string OrderId, long AtMs);

/// <summary>A discount taken for an order: the amount off, or the rule that refused it.</summary>
internal sealed record DiscountOutcome(long DiscountMinor, OrderRefusal? Refusal);

/// <summary>
/// A discount an order spends inside its own transaction (the Vouchers module implements it with a buyer's
/// voucher claim). Orders defines it so that Orders depends on no module that builds on orders (ADR 0013, 0019).
/// </summary>
internal interface IOrderDiscount
{
    /// <summary>Marks the claim used by this order, once, and answers the amount off; a refusal leaves it unused.</summary>
    Task<DiscountOutcome> ApplyAsync(DbConnection c, DbTransaction tx, string claimId, DiscountTarget target, CancellationToken ct);
}

/// <summary>The result of placing an order: the order, or the rule that refused it.</summary>
internal sealed record OrderOutcome(Order? Order, OrderRefusal? Refusal) : ITransactionOutcome
{
    public bool Commit => Order is not null;

    public static OrderOutcome Refused(OrderRefusal refusal) => new(null, refusal);
}

internal enum OrderRefusal
{
    ProductNotFound,
    OutOfStock,
    CoinsCapExceeded,
    InsufficientCoins,
    ClaimNotFound,
    VoucherUsed,
    VoucherMinSpend,
    VoucherNotApplicable,
    SessionNotFound,
    SessionMismatch,
}

/// <summary>
/// Places an order inside a caller's transaction: takes the stock, spends the coins, writes the order
/// and its PurchaseCompleted event, all in one commit or not at all.
/// <para>
/// Discounts apply in a fixed order (ADR 0019): the subtotal (unit price × quantity, a flash-sale price when
/// there is one), minus a voucher claim's discount (at most the subtotal; the voucher's minimum spend is
/// checked against the subtotal), then coins, capped at <see cref="ICoinRedemption.MaxRedeemPercent"/> of what
/// is left after the voucher.
/// </para>
/// </summary>
internal sealed class OrderPlacement(ICatalogStock catalog, Outbox outbox, ICoinRedemption wallet, TimeProvider time, IEnumerable<IOrderDiscount> discounts,
    IEnumerable<IOrderSessions> sessions)
{
    private readonly IOrderDiscount? _discount = discounts.SingleOrDefault();
    private readonly IOrderSessions? _sessions = sessions.SingleOrDefault();

    public async Task<OrderOutcome> PlaceAsync(DbConnection c, DbTransaction tx, OrderDraft draft, CancellationToken ct)
    {
        var product = await catalog.FindAsync(c, tx, draft.ProductId, ct);
        if (product is null)
        {
            return OrderOutcome.Refused(OrderRefusal.ProductNotFound);
        }

        if (draft.SessionId is { } sessionId)
        {
            var refusal = _sessions is null ? OrderRefusal.SessionNotFound : await _sessions.CheckAsync(sessionId, product.SellerId, ct);
            if (refusal is not null)
            {
                return OrderOutcome.Refused(refusal.Value);
            }
        }

        var unitPrice = draft.UnitPriceMinor ?? product.PriceMinor;
        var subtotal = unitPrice * draft.Quantity;
        var now = time.GetUtcNow();
        var nowMs = now.ToUnixTimeMilliseconds();
        var orderId = Ids.New();
        long discount = 0;
        if (draft.ClaimId is not null)
        {
            if (_discount is null)
            {
                return OrderOutcome.Refused(OrderRefusal.ClaimNotFound);
            }

            // The claim is marked used in this transaction: a refusal further down rolls that back too.
            var applied = await _discount.ApplyAsync(c, tx, draft.ClaimId, new DiscountTarget(draft.BuyerId, product.SellerId, product.Currency, subtotal, orderId, nowMs), ct);
            if (applied.Refusal is { } refusal)
            {
                return OrderOutcome.Refused(refusal);
            }

            discount = Math.Min(applied.DiscountMinor, subtotal);
        }

        if (draft.CoinsToRedeem > (subtotal - discount) * wallet.MaxRedeemPercent / 100)
        {
            return OrderOutcome.Refused(OrderRefusal.CoinsCapExceeded);
        }

        if (!draft.StockAlreadyReserved && !await catalog.TryTakeStockAsync(c, tx, product.Id, draft.Quantity, nowMs, ct))
        {
            return OrderOutcome.Refused(OrderRefusal.OutOfStock);
        }

        if (draft.CoinsToRedeem > 0)
        {
            if (!await wallet.TryRedeemAsync(c, tx, draft.BuyerId, draft.CoinsToRedeem, orderId, ct))
            {
                return OrderOutcome.Refused(OrderRefusal.InsufficientCoins);
            }
        }

        var order = new Order(orderId, draft.BuyerId, product.Id, product.SellerId, draft.Quantity, unitPrice, draft.CoinsToRedeem,
            subtotal - discount - draft.CoinsToRedeem, product.Currency, "placed", draft.FlashSaleId, draft.Ref, DateTimeOffset.FromUnixTimeMilliseconds(nowMs),
            discount, draft.ClaimId, draft.SessionId);
        await c.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO orders (id, buyer_id, product_id, seller_id, quantity, unit_price_minor, coins_redeemed, total_minor, currency, status, flash_sale_id, ref, created_at, session_id)
            VALUES (@Id, @BuyerId, @ProductId, @SellerId, @Quantity, @UnitPriceMinor, @CoinsRedeemed, @TotalMinor, @Currency, @Status, @FlashSaleId, @Ref, @at, @SessionId)
            """,
            new { order.Id, order.BuyerId, order.ProductId, order.SellerId, order.Quantity, order.UnitPriceMinor, order.CoinsRedeemed, order.TotalMinor, order.Currency, order.Status, order.FlashSaleId, order.Ref, at = nowMs, order.SessionId },
            tx, cancellationToken: ct));
        await outbox.EnqueueAsync(c, tx, new PurchaseCompleted(order.Id, order.BuyerId, order.SellerId, order.ProductId, order.Quantity, order.UnitPriceMinor,
            order.TotalMinor, order.CoinsRedeemed, order.Currency, order.FlashSaleId, order.Ref, order.CreatedAt, order.SessionId), ct);
        return new OrderOutcome(order, null);
    }

    internal const string Columns =
        "id AS Id, buyer_id AS BuyerId, product_id AS ProductId, seller_id AS SellerId, quantity AS Quantity, unit_price_minor AS UnitPriceMinor, coins_redeemed AS CoinsRedeemed, total_minor AS TotalMinor, currency AS Currency, status AS Status, flash_sale_id AS FlashSaleId, ref AS Ref, created_at AS CreatedAt, session_id AS SessionId";

    internal sealed class OrderRow
    {
        public string Id { get; init; } = "";
        public string BuyerId { get; init; } = "";
        public string ProductId { get; init; } = "";
        public string SellerId { get; init; } = "";
        public long Quantity { get; init; }
        public long UnitPriceMinor { get; init; }
        public long CoinsRedeemed { get; init; }
        public long TotalMinor { get; init; }
        public string Currency { get; init; } = "";
        public string Status { get; init; } = "";
        public string? FlashSaleId { get; init; }
        public string? Ref { get; init; }
        public long CreatedAt { get; init; }
        public string? SessionId { get; init; }

        /// <remarks>The orders table has no discount column: what the subtotal, coins and total leave is the voucher's part.</remarks>
        public Order ToOrder() => new(Id, BuyerId, ProductId, SellerId, (int)Quantity, UnitPriceMinor, CoinsRedeemed, TotalMinor, Currency, Status,
            FlashSaleId, Ref, DateTimeOffset.FromUnixTimeMilliseconds(CreatedAt), (UnitPriceMinor * Quantity) - CoinsRedeemed - TotalMinor, SessionId: SessionId);
    }
}
