using System.Collections.Immutable;
using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Events;
using Pasar.Server.Platform.Http;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Live;

internal static class LiveStatus
{
    public const string Created = "created";
    public const string Live = "live";
    public const string Ended = "ended";
    public const string Scheduled = "scheduled";
    public const string Cancelled = "cancelled";

    public static readonly ImmutableArray<string> All = [Scheduled, Created, Live, Ended, Cancelled];

    /// <summary>Final states: the stream key is refused and nothing about the session changes any more.</summary>
    public static bool IsOver(string status) => status is Ended or Cancelled;
}

/// <summary>A live session as stored: the system of record for its status.</summary>
internal sealed class LiveSessionRow
{
    public string Id { get; init; } = "";
    public string SellerId { get; init; } = "";
    public string Title { get; init; } = "";
    public string Status { get; init; } = "";
    public long CreatedAt { get; init; }
    public long? StartedAt { get; init; }
    public long? EndedAt { get; init; }
    public long? ScheduledAt { get; init; }

    /// <summary>When the replay's playlists reached the object store (ADR 0023); null while it is on local disk only.</summary>
    public long? ReplayStoredAt { get; init; }
}

/// <summary>The <c>live_sessions</c> table. Stream keys are high-entropy secrets, so a SHA-256 of the key is enough to store.</summary>
internal sealed class LiveSessionStore(Database db, Outbox outbox, TimeProvider time, ShowNoticeSignal notices, Microsoft.Extensions.Options.IOptions<LiveOptions> options)
{
    private const string Columns = "id AS Id, seller_id AS SellerId, title AS Title, status AS Status, created_at AS CreatedAt, started_at AS StartedAt, ended_at AS EndedAt, scheduled_at AS ScheduledAt, replay_stored_at AS ReplayStoredAt";

    public static string NewStreamKey() => Ids.Secret(32);

    public static string HashKey(string streamKey) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(streamKey)));

    /// <summary>A new session: <c>created</c>, or <c>scheduled</c> for <paramref name="scheduledAt"/> (its key works either way).</summary>
    public async Task<LiveSessionRow> CreateAsync(string sellerId, string title, string streamKey, CancellationToken ct, DateTimeOffset? scheduledAt = null)
    {
        var row = new LiveSessionRow
        {
            Id = Ids.New(),
            SellerId = sellerId,
            Title = title,
            Status = scheduledAt is null ? LiveStatus.Created : LiveStatus.Scheduled,
            CreatedAt = time.GetUtcNow().ToUnixTimeMilliseconds(),
            ScheduledAt = scheduledAt?.ToUnixTimeMilliseconds(),
        };
        await db.InTransactionAsync(async (c, tx) =>
        {
            await c.ExecuteAsync(new CommandDefinition(
                "INSERT INTO live_sessions (id, seller_id, title, status, stream_key_hash, created_at, scheduled_at) VALUES (@Id, @SellerId, @Title, @Status, @hash, @CreatedAt, @ScheduledAt)",
                new { row.Id, row.SellerId, row.Title, row.Status, hash = HashKey(streamKey), row.CreatedAt, row.ScheduledAt }, tx, cancellationToken: ct));
            if (row.ScheduledAt is not null)
            {
                // The reminder is owed from the moment the show exists, in the same commit.
                await ShowSchedule.QueueReminderAsync(c, tx, row, options.Value.ReminderLead, await ShowSchedule.SellerNameAsync(c, tx, sellerId, ct), ct);
            }
        }, ct);
        if (row.ScheduledAt is not null)
        {
            notices.Wake();
        }

        return row;
    }

    public async Task<LiveSessionRow?> FindAsync(string id, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return await FindAsync(c, null, id, ct);
    }

    public static Task<LiveSessionRow?> FindAsync(DbConnection c, DbTransaction? tx, string id, CancellationToken ct) =>
        c.QuerySingleOrDefaultAsync<LiveSessionRow>(new CommandDefinition($"SELECT {Columns} FROM live_sessions WHERE id = @id", new { id }, tx, cancellationToken: ct));

    public async Task<LiveSessionRow?> FindByKeyAsync(string streamKey, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return await c.QuerySingleOrDefaultAsync<LiveSessionRow>(new CommandDefinition(
            $"SELECT {Columns} FROM live_sessions WHERE stream_key_hash = @hash", new { hash = HashKey(streamKey) }, cancellationToken: ct));
    }

    /// <summary>Replaces the key; the old one stops working at once. False when the session has ended.</summary>
    public Task<bool> RotateKeyAsync(string id, string streamKey, CancellationToken ct) =>
        db.InTransactionAsync(async (c, tx) => await c.ExecuteAsync(new CommandDefinition(
            "UPDATE live_sessions SET stream_key_hash = @hash, key_rotated_at = @now WHERE id = @id AND status NOT IN ('ended', 'cancelled')",
            new { id, hash = HashKey(streamKey), now = time.GetUtcNow().ToUnixTimeMilliseconds() }, tx, cancellationToken: ct)) == 1, ct);

    /// <summary>
    /// created or scheduled → live, with the <see cref="LiveStarted"/> event and the subscribers' SELLER_LIVE notice
    /// in the same transaction. False when it was neither.
    /// </summary>
    public async Task<bool> MarkLiveAsync(string id, CancellationToken ct)
    {
        var changed = await db.InTransactionAsync(async (c, tx) =>
        {
            var now = time.GetUtcNow();
            var changed = await c.ExecuteAsync(new CommandDefinition(
                "UPDATE live_sessions SET status = 'live', started_at = @at WHERE id = @id AND status IN ('created', 'scheduled')",
                new { id, at = now.ToUnixTimeMilliseconds() }, tx, cancellationToken: ct));
            if (changed == 0)
            {
                return false;
            }

            var row = (await FindAsync(c, tx, id, ct))!;
            await outbox.EnqueueAsync(c, tx, new LiveStarted(row.Id, row.SellerId, row.Title, now), ct);
            await ShowSchedule.WentLiveAsync(c, tx, row, now, ct);
            return true;
        }, ct);
        if (changed)
        {
            notices.Wake();
        }

        return changed;
    }

    /// <summary>Any status → ended, owing its replay until <see cref="ReplayWrittenAsync"/>. False when it had already ended.</summary>
    public Task<bool> MarkEndedAsync(string id, string reason, CancellationToken ct) =>
        db.InTransactionAsync(async (c, tx) =>
        {
            var now = time.GetUtcNow();
            var changed = await c.ExecuteAsync(new CommandDefinition(
                // A session that never went live has no recording, so no replay is owed.
                "UPDATE live_sessions SET status = 'ended', ended_at = @at, end_reason = @reason, replay_pending = CASE WHEN started_at IS NULL THEN 0 ELSE 1 END WHERE id = @id AND status NOT IN ('ended', 'cancelled')",
                new { id, at = now.ToUnixTimeMilliseconds(), reason }, tx, cancellationToken: ct));
            if (changed == 0)
            {
                return false;
            }

            var row = (await FindAsync(c, tx, id, ct))!;
            await outbox.EnqueueAsync(c, tx, new LiveEnded(row.Id, row.SellerId, reason, now), ct);
            return true;
        }, ct);

    /// <summary>The replay of an ended session is on disk: nothing is left to resume.</summary>
    public Task ReplayWrittenAsync(string id, CancellationToken ct) =>
        db.InTransactionAsync((c, tx) => c.ExecuteAsync(new CommandDefinition(
            "UPDATE live_sessions SET replay_pending = 0 WHERE id = @id", new { id }, tx, cancellationToken: ct)), ct);

    /// <summary>Ended sessions whose replay has not been written yet (a crash or a failure while ending).</summary>
    public async Task<IReadOnlyList<string>> ListReplayPendingAsync(CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return (await c.QueryAsync<string>(new CommandDefinition("SELECT id FROM live_sessions WHERE replay_pending = 1", cancellationToken: ct))).AsList();
    }

    public async Task<IReadOnlyList<LiveSessionRow>> ListAsync(string? status, string? sellerId, PageRequest page, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var sql = $"SELECT {Columns} FROM live_sessions WHERE {page.Condition("created_at", "id")}"
            + (status is null ? "" : " AND status = @status")
            + (sellerId is null ? "" : " AND seller_id = @sellerId")
            + " ORDER BY created_at DESC, id DESC LIMIT @fetch";
        return (await c.QueryAsync<LiveSessionRow>(new CommandDefinition(sql,
            new { status, sellerId, beforeTime = page.BeforeTime, beforeId = page.BeforeId, fetch = page.FetchSize }, cancellationToken: ct))).AsList();
    }

    /// <summary>Upcoming shows, soonest first (keyset on scheduled_at, id ascending).</summary>
    public async Task<IReadOnlyList<LiveSessionRow>> ListScheduledAsync(string? sellerId, PageRequest page, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var sql = $"SELECT {Columns} FROM live_sessions WHERE status = 'scheduled'"
            + (page.BeforeTime is null ? "" : " AND (scheduled_at > @afterTime OR (scheduled_at = @afterTime AND id > @afterId))")
            + (sellerId is null ? "" : " AND seller_id = @sellerId")
            + " ORDER BY scheduled_at, id LIMIT @fetch";
        return (await c.QueryAsync<LiveSessionRow>(new CommandDefinition(sql,
            new { sellerId, afterTime = page.BeforeTime, afterId = page.BeforeId, fetch = page.FetchSize }, cancellationToken: ct))).AsList();
    }

    public async Task<IReadOnlyList<LiveSessionRow>> ListLiveAsync(CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return (await c.QueryAsync<LiveSessionRow>(new CommandDefinition($"SELECT {Columns} FROM live_sessions WHERE status = 'live'", cancellationToken: ct))).AsList();
    }
}
