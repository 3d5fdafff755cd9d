using Dapper;
using Microsoft.Extensions.Options;

namespace Pasar.Server.Platform.Storage;

/// <summary>
/// Runs every module's <see cref="IRetentionTask"/> once shortly after start and then every
/// <see cref="RetentionOptions.Every"/>. An unavailable database skips a round; the loop never stops.
/// </summary>
internal sealed class RetentionJob(IEnumerable<IRetentionTask> tasks, TimeProvider time, IOptions<RetentionOptions> options, ILogger<RetentionJob> logger)
    : BackgroundService
{
    private static readonly TimeSpan FirstRunAfter = TimeSpan.FromMinutes(1);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await Task.Delay(FirstRunAfter, time, stoppingToken);
            while (true)
            {
                await RunOnceAsync(stoppingToken);
                await Task.Delay(options.Value.Every, time, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>One round over every task; a task that fails is logged and the others still run.</summary>
    internal async Task<long> RunOnceAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow();
        long total = 0;
        foreach (var task in tasks)
        {
            try
            {
                total += await task.PruneAsync(now, ct);
            }
            catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
            {
                if (StoreFaults.IsUnavailable(ex))
                {
                    logger.LogWarning("Retention {Task} skipped this round: {Error}", task.GetType().Name, StoreFaults.Describe(ex));
                }
                else
                {
                    logger.LogError(ex, "Retention {Task} failed", task.GetType().Name);
                }
            }
        }

        if (total > 0)
        {
            logger.LogInformation("Retention pruned {Rows} rows", total);
        }

        return total;
    }

    /// <summary>
    /// Runs <paramref name="deleteChunk"/> (a DELETE of at most <paramref name="chunk"/> rows, with <c>@cutoff</c> and
    /// <c>@chunk</c>) until it deletes fewer, each chunk in its own short transaction so writers are not held up.
    /// </summary>
    public static async Task<long> DeleteInChunksAsync(Database database, string deleteChunk, long cutoff, CancellationToken ct, int chunk = 1000)
    {
        long total = 0;
        while (true)
        {
            var deleted = await database.InTransactionAsync(async (c, tx) =>
                await c.ExecuteAsync(new CommandDefinition(deleteChunk, new { cutoff, chunk }, tx, cancellationToken: ct)), ct);
            total += deleted;
            if (deleted < chunk)
            {
                return total;
            }
        }
    }
}

/// <summary>Platform's own tables: delivered and dead-lettered outbox events, their delivery records, Idempotency-Keys.</summary>
internal sealed class PlatformRetention(Database database, IOptions<RetentionOptions> options) : IRetentionTask
{
    public async Task<long> PruneAsync(DateTimeOffset now, CancellationToken ct)
    {
        var o = options.Value;
        var outboxCutoff = now.AddDays(-o.OutboxDays).ToUnixTimeMilliseconds();
        var deleted = await RetentionJob.DeleteInChunksAsync(database,
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE dispatched_at < @cutoff LIMIT @chunk)", outboxCutoff, ct);
        deleted += await RetentionJob.DeleteInChunksAsync(database,
            "DELETE FROM outbox WHERE id IN (SELECT id FROM outbox WHERE dead_lettered_at < @cutoff LIMIT @chunk)", outboxCutoff, ct);
        // A delivery record goes only with its event: while the event is still in the outbox (pending, or
        // dead-lettered and perhaps put back by an operator) it is what keeps a handler from running twice.
        deleted += await RetentionJob.DeleteInChunksAsync(database,
            """
            DELETE FROM outbox_deliveries WHERE (event_id, handler) IN (
                SELECT d.event_id, d.handler FROM outbox_deliveries d
                WHERE d.delivered_at < @cutoff AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.event_id = d.event_id)
                LIMIT @chunk)
            """, outboxCutoff, ct);
        deleted += await RetentionJob.DeleteInChunksAsync(database,
            """
            DELETE FROM idempotency_keys WHERE (user_id, idem_key) IN (
                SELECT user_id, idem_key FROM idempotency_keys WHERE created_at < @cutoff LIMIT @chunk)
            """, now.AddDays(-o.IdempotencyKeyDays).ToUnixTimeMilliseconds(), ct);
        return deleted;
    }
}
