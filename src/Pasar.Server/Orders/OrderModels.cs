using Pasar.Server.Platform.Events;

namespace Pasar.Server.Orders;

internal sealed record Order(
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
    DateTimeOffset CreatedAt,
    long DiscountMinor = 0,
    string? ClaimId = null,
    string? SessionId = null);

internal sealed record PlaceOrderRequest(string? ProductId, int? Quantity, long? CoinsToRedeem, string? Ref, string? ClaimId = null, string? SessionId = null);

/// <summary>An order was placed. Feeds social proof, low-stock signals, live analytics and referral rewards.</summary>
internal sealed record PurchaseCompleted(
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
    DateTimeOffset At,
    string? SessionId = null) : IIntegrationEvent;

/// <summary>Order rules. The coin cap is the Coins module's (<see cref="Coins.ICoinRedemption.MaxRedeemPercent"/>).</summary>
internal sealed class OrderRules
{
    public int MaxQuantity { get; set; } = 999;
}
