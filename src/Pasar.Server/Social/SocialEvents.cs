using Pasar.Server.Platform.Events;

namespace Pasar.Server.Social;

/// <summary>Someone started following a seller (drives the seller's NEW_FOLLOWER notification).</summary>
internal sealed record SellerFollowed(string FollowerId, string FollowerName, string SellerId, DateTimeOffset At) : IIntegrationEvent;

internal static class ActivityTypes
{
    public const string NewProduct = "NEW_PRODUCT";
    public const string PriceDrop = "PRICE_DROP";
    public const string LiveStarted = "LIVE_STARTED";
    public const string FlashSaleStarted = "FLASH_SALE_STARTED";
}

internal sealed class SocialOptions
{
    /// <summary>Coins for the sharer when an order carries their tracking code (<c>Pasar:Social:ReferralCoins</c>).</summary>
    public long ReferralCoins { get; set; } = 50;

    /// <summary>How long after the last click of a share link an order still rewards the sharer.</summary>
    public TimeSpan ReferralWindow { get; set; } = TimeSpan.FromDays(7);

    /// <summary>Followers notified per transaction by the background fan-out.</summary>
    public int FanoutBatchSize { get; set; } = 1000;

    /// <summary>
    /// Counted clicks per client address per share link per hour (<c>Pasar:Social:ClicksPerAddressPerHour</c>),
    /// besides once per visitor per 24 h: a household or an office behind one address still counts as several.
    /// </summary>
    public int ClicksPerAddressPerHour { get; set; } = 20;
}
