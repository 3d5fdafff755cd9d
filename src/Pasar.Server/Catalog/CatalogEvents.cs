using Pasar.Server.Platform.Events;

namespace Pasar.Server.Catalog;

/// <summary>A seller listed a new product (feeds the followers' NEW_PRODUCT activity).</summary>
internal sealed record ProductCreated(string ProductId, string SellerId, string Title, long PriceMinor, string Currency, DateTimeOffset At) : IIntegrationEvent;

/// <summary>A seller lowered a price (feeds the followers' PRICE_DROP activity).</summary>
internal sealed record ProductPriceDropped(string ProductId, string SellerId, long OldPriceMinor, long NewPriceMinor, string Currency, DateTimeOffset At) : IIntegrationEvent;
