namespace Pasar.Server.Platform.Storage;

/// <summary>The <c>Pasar:Retention</c> section (SPEC §2, §17): how long rows that only serve a while are kept (ADR 0009).</summary>
internal sealed class RetentionOptions
{
    public const string Section = "Pasar:Retention";

    /// <summary>Days a delivered (or dead-lettered) outbox event and its delivery records are kept.</summary>
    public int OutboxDays { get; set; } = 7;

    /// <summary>Days an Idempotency-Key replays its first response (SPEC §2: at least this long).</summary>
    public int IdempotencyKeyDays { get; set; } = 7;

    /// <summary>Days a counted share click is remembered. At least 1: a click counts once per visitor per 24 h.</summary>
    public int ShareClickDays { get; set; } = 2;

    /// <summary>How often the retention job runs on each node (deletes are idempotent, so nodes may overlap).</summary>
    public TimeSpan Every { get; set; } = TimeSpan.FromHours(1);
}

/// <summary>
/// Pruning of one module's own tables, run by <see cref="RetentionJob"/>. Each module registers its own, so that no
/// module deletes from another's tables.
/// </summary>
internal interface IRetentionTask
{
    /// <summary>Deletes what is past its retention at <paramref name="now"/>; returns the rows deleted.</summary>
    Task<long> PruneAsync(DateTimeOffset now, CancellationToken ct);
}
