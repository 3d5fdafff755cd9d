using Pasar.Server.Platform.Events;

namespace Pasar.Server.Live;

/// <summary>
/// A live session received its first media: the seller is on air. Recorded in the same transaction as the
/// status change (the Social module turns it into a LIVE_STARTED activity and follower notifications).
/// </summary>
internal sealed record LiveStarted(string SessionId, string SellerId, string Title, DateTimeOffset At) : IIntegrationEvent;

/// <summary>A live session ended (owner, or the publisher stayed away longer than the reconnect grace).</summary>
internal sealed record LiveEnded(string SessionId, string SellerId, string Reason, DateTimeOffset At) : IIntegrationEvent;
