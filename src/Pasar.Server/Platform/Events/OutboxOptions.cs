namespace Pasar.Server.Platform.Events;

/// <summary>The <c>Pasar:Outbox</c> section: how events are leased and when a failing one is given up (ADR 0009).</summary>
internal sealed class OutboxOptions
{
    public const string Section = "Pasar:Outbox";

    /// <summary>
    /// How long a claimed batch stays leased to its node without a renewal. The node renews it every third of
    /// this while it works, so a live node keeps its batch however long delivery takes, and a node that died
    /// (kill -9) hands its batch over after at most this long.
    /// </summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Failed deliveries of one event before it is dead-lettered (no longer retried, counted in /metrics).</summary>
    public int MaxAttempts { get; set; } = 10;

    /// <summary>Longest wait between two retries of a failing event (the backoff doubles from 2 s up to this).</summary>
    public TimeSpan MaxBackoff { get; set; } = TimeSpan.FromMinutes(5);
}
