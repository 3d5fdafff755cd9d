using Pasar.Server.Platform;
using Pasar.Server.Platform.Events;

namespace Pasar.Server.FlashSales;

public sealed record FlashSale(
    string Id, string SessionId, string ProductId, long SalePriceMinor, string Currency, int Quantity, int Remaining, int PerUserLimit,
    DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Status);

internal sealed record StartFlashSaleRequest(string? ProductId, long? SalePriceMinor, int? Quantity, int? DurationSeconds, int? PerUserLimit);

internal sealed record FlashPurchaseRequest(int? Quantity);

public sealed record FlashSaleUpdated(string Id, string SessionId, int Remaining);

public sealed record FlashSaleEnded(string Id, string SessionId, string Reason, int Sold, int Returned);

internal static class FlashSaleStatus
{
    public const string Active = "active";
    public const string Ended = "ended";
}

/// <summary>A flash sale started in a live room (feeds the FLASH_SALE_STARTED activity and the room push).</summary>
internal sealed record FlashSaleStarted(string FlashSaleId, string SessionId, string SellerId, string ProductId, DateTimeOffset At) : IIntegrationEvent;

/// <summary>A flash sale ended; its unsold units went back to the product.</summary>
internal sealed record FlashSaleClosed(string FlashSaleId, string SessionId, string ProductId, string Reason, int Sold, int Returned, DateTimeOffset At) : IIntegrationEvent;

internal sealed class FlashSaleRow
{
    public string Id { get; init; } = "";
    public string SessionId { get; init; } = "";
    public string SellerId { get; init; } = "";
    public string ProductId { get; init; } = "";
    public long SalePriceMinor { get; init; }
    public string Currency { get; init; } = "";
    public long Quantity { get; init; }
    public long Sold { get; init; }
    public long PerUserLimit { get; init; }
    public long StartsAt { get; init; }
    public long EndsAt { get; init; }
    public string Status { get; init; } = "";

    public const string Columns =
        "id AS Id, session_id AS SessionId, seller_id AS SellerId, product_id AS ProductId, sale_price_minor AS SalePriceMinor, currency AS Currency, quantity AS Quantity, sold AS Sold, per_user_limit AS PerUserLimit, starts_at AS StartsAt, ends_at AS EndsAt, status AS Status";

    public FlashSale ToSale() => new(Id, SessionId, ProductId, SalePriceMinor, Currency, (int)Quantity, (int)(Quantity - Sold), (int)PerUserLimit,
        DateTimeOffset.FromUnixTimeMilliseconds(StartsAt), DateTimeOffset.FromUnixTimeMilliseconds(EndsAt), Status);
}

internal sealed class FlashSaleOptions
{
    public GateKind Gate { get; set; } = GateKind.Redis;
}
