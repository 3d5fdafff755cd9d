using Pasar.Server.Platform.Events;

namespace Pasar.Server.Auctions;

/// <summary>A live auction (the <c>auctionStarted</c> push, <c>GET /api/auctions/{id}</c> and the room's <c>activeAuction</c>).</summary>
public sealed record Auction(
    string Id, string SessionId, string SellerId, string ProductId, string Currency, long StartPriceMinor, long IncrementMinor, int AntiSnipeSeconds,
    DateTimeOffset StartsAt, DateTimeOffset EndsAt, long? HighestBidMinor, string? HighestBidderId, string? BidderName, int Bids, string Status, string? OrderId);

/// <summary>The highest bid or the end moved (pushed at most four times a second per auction).</summary>
public sealed record AuctionUpdated(string Id, string SessionId, long? HighestBidMinor, string? HighestBidderId, string? BidderName, DateTimeOffset EndsAt, int Bids);

/// <summary>The auction closed: sold to the highest bidder (who now has an order), or unsold with its unit back in stock.</summary>
public sealed record AuctionEnded(string Id, string SessionId, string Status, long? HighestBidMinor, string? WinnerId, string? WinnerName);

internal sealed record StartAuctionRequest(string? ProductId, long? StartPriceMinor, long? IncrementMinor, int? DurationSeconds, int? AntiSnipeSeconds);

internal sealed record PlaceBidRequest(long? AmountMinor);

/// <summary>An accepted bid, as its bidder sees it.</summary>
internal sealed record AuctionBid(string Id, string AuctionId, string BidderId, string BidderName, long AmountMinor, DateTimeOffset PlacedAt, DateTimeOffset EndsAt);

internal sealed record AuctionStarted(string AuctionId, string SessionId, string SellerId, string ProductId, DateTimeOffset At) : IIntegrationEvent;

internal sealed record AuctionClosed(string AuctionId, string SessionId, string ProductId, string Status, long? WinningBidMinor, string? WinnerId, string? OrderId, DateTimeOffset At)
    : IIntegrationEvent;

internal static class AuctionStatus
{
    public const string Open = "open";
    public const string Sold = "sold";
    public const string Unsold = "unsold";
}

internal sealed class AuctionRow
{
    public string Id { get; init; } = "";
    public string SessionId { get; init; } = "";
    public string SellerId { get; init; } = "";
    public string ProductId { get; init; } = "";
    public string Currency { get; init; } = "";
    public long StartPriceMinor { get; init; }
    public long IncrementMinor { get; init; }
    public long AntiSnipeSeconds { get; init; }
    public long StartsAt { get; init; }
    public long EndsAt { get; init; }
    public long? HighestBidMinor { get; init; }
    public string? HighestBidderId { get; init; }
    public string? HighestBidderName { get; init; }
    public long Bids { get; init; }
    public string Status { get; init; } = AuctionStatus.Open;
    public string? OrderId { get; init; }

    public const string Columns =
        "id AS Id, session_id AS SessionId, seller_id AS SellerId, product_id AS ProductId, currency AS Currency, start_price_minor AS StartPriceMinor, increment_minor AS IncrementMinor, anti_snipe_seconds AS AntiSnipeSeconds, starts_at AS StartsAt, ends_at AS EndsAt, highest_bid_minor AS HighestBidMinor, highest_bidder_id AS HighestBidderId, highest_bidder_name AS HighestBidderName, bids AS Bids, status AS Status, order_id AS OrderId";

    public Auction ToAuction() => new(Id, SessionId, SellerId, ProductId, Currency, StartPriceMinor, IncrementMinor, (int)AntiSnipeSeconds,
        DateTimeOffset.FromUnixTimeMilliseconds(StartsAt), DateTimeOffset.FromUnixTimeMilliseconds(EndsAt), HighestBidMinor, HighestBidderId, HighestBidderName, (int)Bids, Status, OrderId);

    public AuctionUpdated ToUpdated() =>
        new(Id, SessionId, HighestBidMinor, HighestBidderId, HighestBidderName, DateTimeOffset.FromUnixTimeMilliseconds(EndsAt), (int)Bids);
}

/// <summary><c>Pasar:Auctions:*</c>.</summary>
internal sealed class AuctionOptions
{
    /// <summary><c>SqlOnly</c> is the benchmark floor: every bid is the guarded SQL transaction (ADR 0021).</summary>
    public Platform.GateKind Gate { get; set; } = Platform.GateKind.Redis;
}
