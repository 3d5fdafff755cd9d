using Pasar.Server.Platform.Events;

namespace Pasar.Server.Orders;

public sealed record Order(
    string Id,
    string BuyerId,
    string ProductId,
    string SellerId,
    int Quantity,
    long UnitPriceMinor,
    long CoinsRedeemed,
    long TotalMinor,
    string Currency,
    string Status,
    string? FlashSaleId,
    string? Ref,
    DateTimeOffset CreatedAt);

public sealed record PlaceOrderRequest(string? ProductId, int? Quantity, long? CoinsToRedeem, string? Ref);

/// <summary>An order was placed. Feeds social proof, low-stock signals, live analytics and referral rewards.</summary>
public sealed record PurchaseCompleted(
    string OrderId,
    string BuyerId,
    string SellerId,
    string ProductId,
    int Quantity,
    long UnitPriceMinor,
    long TotalMinor,
    long CoinsRedeemed,
    string Currency,
    string? FlashSaleId,
    string? Ref,
    DateTimeOffset At) : IIntegrationEvent;

/// <summary>The coin-wallet seam of an order: spend coins in the order's own transaction.</summary>
public interface ICoinRedemption
{
    /// <summary>Spends <paramref name="coins"/> of <paramref name="userId"/>'s balance for <paramref name="orderId"/>; false when the balance is short (nothing changed).</summary>
    Task<bool> TryRedeemAsync(System.Data.Common.DbConnection c, System.Data.Common.DbTransaction tx, string userId, long coins, string orderId, CancellationToken ct);
}

/// <summary>Order rules from configuration (<c>Pasar:Coins:MaxRedeemPercent</c>).</summary>
public sealed class OrderRules
{
    public int MaxRedeemPercent { get; set; } = 25;
    public int MaxQuantity { get; set; } = 999;
}
