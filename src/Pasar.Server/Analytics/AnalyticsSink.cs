using Dapper;
using Microsoft.Extensions.Options;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Analytics;

internal enum SinkStatus
{
    Starting,
    Delivering,
    Unreachable,
    Refused,
}

/// <summary>What the sink last saw of ClickHouse, for <c>/readyz</c> and the log.</summary>
internal sealed class AnalyticsSinkState
{
    public SinkStatus Status { get; set; } = SinkStatus.Starting;

    public string? Error { get; set; }
}

/// <summary>
/// Sends the spool to ClickHouse: as soon as <c>Pasar:Analytics:BatchSize</c> events wait, or every
/// <c>FlushInterval</c>. Each round claims up to <see cref="MaxRows"/> of the oldest rows with a lease (so several
/// nodes can share the spool, ADR 0009), inserts them as one <c>JSONEachRow</c> batch, and deletes them once
/// ClickHouse acknowledged it. A batch that fails stays spooled and leased to this node and is sent again; one
/// ClickHouse took but whose acknowledgement was lost is sent twice, which the queries' distinct event ids absorb.
/// The schema is applied before the first batch; an unreachable ClickHouse is waited out, never fatal.
/// </summary>
internal sealed class AnalyticsSink(
    Database database,
    ClickHouseHttp clickHouse,
    AnalyticsSpool spool,
    SpoolBacklog backlog,
    AnalyticsSinkState state,
    AnalyticsMetrics metrics,
    IOptions<AnalyticsOptions> options,
    TimeProvider time,
    ILogger<AnalyticsSink> logger) : BackgroundService
{
    public const int MaxRows = 10_000;
    private static readonly TimeSpan Recount = TimeSpan.FromSeconds(5);
    private readonly string _node = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}";
    private readonly AnalyticsOptions _options = options.Value;
    private readonly SemaphoreSlim _wake = new(0, 1);
    private int _unsent;
    private bool _schemaReady;
    private long _countedAt = long.MinValue;
    private long _prunedAt = long.MinValue;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        spool.Spooled += OnSpooled;
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            int sent;
            try
            {
                await RecountAsync(stoppingToken);
                if (!_schemaReady)
                {
                    var applied = await ClickHouseSchema.ApplyAsync(clickHouse, stoppingToken);
                    _schemaReady = true;
                    logger.LogInformation("Analytics: ClickHouse at {Url} (Pasar:Analytics:ClickHouse:Url), database {Database}, schema changes applied now: {Applied}",
                        clickHouse.Url, clickHouse.Database, applied.Count == 0 ? "none" : string.Join(", ", applied));
                }

                await PruneHourlyAsync(stoppingToken);
                sent = await DeliverBatchAsync(stoppingToken);
                if (failures > 0)
                {
                    logger.LogInformation("Analytics: ClickHouse takes events again after {Failures} failed rounds; {Backlog} spooled", failures, backlog.Rows);
                }

                failures = 0;
                state.Status = SinkStatus.Delivering;
                state.Error = null;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                failures++;
                Describe(ex, failures);
                try
                {
                    await Task.Delay(StoreResilience.LoopBackoff(failures), time, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                continue;
            }

            if (sent < MaxRows)
            {
                try
                {
                    await _wake.WaitAsync(_options.FlushInterval, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }

        spool.Spooled -= OnSpooled;
    }

    /// <summary>Claims the oldest spooled rows, sends them as one batch, and deletes what ClickHouse acknowledged.</summary>
    internal async Task<int> DeliverBatchAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        Interlocked.Exchange(ref _unsent, 0);
        var claimed = await database.InTransactionAsync(async (c, tx) => (await c.QueryAsync<SpoolRow>(new CommandDefinition(
            """
            UPDATE analytics_spool SET locked_by = @node, locked_until = @until
            WHERE id IN (
                SELECT id FROM analytics_spool
                WHERE locked_until IS NULL OR locked_until < @now OR locked_by = @node
                ORDER BY id LIMIT @batch)
              AND (locked_until IS NULL OR locked_until < @now OR locked_by = @node)
            RETURNING id AS Id, payload AS Payload
            """,
            new { node = _node, until = now + (long)_options.Lease.TotalMilliseconds, now, batch = MaxRows }, tx, cancellationToken: ct))).OrderBy(r => r.Id).ToList(), ct);
        if (claimed.Count == 0)
        {
            return 0;
        }

        try
        {
            await clickHouse.InsertAsync(ClickHouseSchema.EventsTable, [.. claimed.Select(r => r.Payload)], ct);
        }
        catch (Exception ex) when (ex is ClickHouseException or ClickHouseUnavailableException)
        {
            metrics.SendFailures.Add(1);
            await ReleaseAsync();
            throw;
        }

        metrics.Sent.Add(claimed.Count);
        // The rows this node holds up to the batch's last id are exactly the batch: each round claims the oldest
        // eligible rows, its own leftovers included. A row another node took over after our lease lapsed is theirs
        // to delete (and to send again, which the distinct ids absorb). No id list: Dapper hands a list to Npgsql
        // as one array, which "IN" does not take.
        await database.InTransactionAsync(async (c, tx) => await c.ExecuteAsync(new CommandDefinition(
            "DELETE FROM analytics_spool WHERE locked_by = @node AND id <= @last",
            new { node = _node, last = claimed[^1].Id }, tx, cancellationToken: CancellationToken.None)), CancellationToken.None);
        backlog.Add(-claimed.Count);
        return claimed.Count;
    }

    private async Task PruneHourlyAsync(CancellationToken ct)
    {
        var now = time.GetTimestamp();
        if (_options.RetentionMonths == 0 || (_prunedAt != long.MinValue && time.GetElapsedTime(_prunedAt, now) < TimeSpan.FromHours(1)))
        {
            return;
        }

        _prunedAt = now;
        var dropped = await DropExpiredPartitionsAsync(ct);
        if (dropped.Count > 0)
        {
            logger.LogInformation("Analytics retention (Pasar:Analytics:RetentionMonths = {Months}) dropped the months {Partitions}", _options.RetentionMonths, string.Join(", ", dropped));
        }
    }

    /// <summary>
    /// Retention: drops the monthly partitions older than <c>Pasar:Analytics:RetentionMonths</c> (the current month
    /// counts as one). 18.16 has no TTL; a whole partition goes at once, cheaply.
    /// </summary>
    internal async Task<IReadOnlyList<int>> DropExpiredPartitionsAsync(CancellationToken ct)
    {
        if (_options.RetentionMonths == 0)
        {
            return [];
        }

        var today = time.GetUtcNow().UtcDateTime;
        var oldestKept = new DateTime(today.Year, today.Month, 1, 0, 0, 0, DateTimeKind.Utc).AddMonths(-(_options.RetentionMonths - 1));
        var cutoff = (oldestKept.Year * 100) + oldestKept.Month;
        var tables = string.Join(", ", ClickHouseSchema.PartitionedTables.Select(ClickHouseHttp.Quote));
        var expired = (await clickHouse.QueryAsync(
            $"SELECT DISTINCT table, partition FROM system.parts WHERE database = {ClickHouseHttp.Quote(clickHouse.Database)} AND table IN ({tables}) AND active", ct))
            .Select(r => (Table: r.GetProperty("table").GetString()!,
                Month: int.TryParse(r.GetProperty("partition").GetString()?.Trim('\''), out var month) ? month : int.MaxValue))
            .Where(p => p.Month < cutoff).OrderBy(p => p.Month).ToList();
        foreach (var (table, month) in expired)
        {
            await clickHouse.ExecuteAsync($"ALTER TABLE {clickHouse.Database}.{table} DROP PARTITION {month}", ct);
        }

        var partitions = expired.Select(p => p.Month).Distinct().ToList();
        return partitions;
    }

    /// <summary>
    /// Gives back the rows of a batch that did not go, so that another node (or this one after a restart, under a
    /// new name) can take them at once instead of after the lease.
    /// </summary>
    private async Task ReleaseAsync()
    {
        try
        {
            await database.InTransactionAsync(async (c, tx) => await c.ExecuteAsync(new CommandDefinition(
                "UPDATE analytics_spool SET locked_by = NULL, locked_until = NULL WHERE locked_by = @node",
                new { node = _node }, tx, cancellationToken: CancellationToken.None)), CancellationToken.None);
        }
        catch (Exception ex) when (StoreFaults.IsUnavailable(ex))
        {
            // The lease runs out on its own.
        }
    }

    private void OnSpooled(int rows)
    {
        if (Interlocked.Add(ref _unsent, rows) >= _options.BatchSize)
        {
            try
            {
                if (_wake.CurrentCount == 0)
                {
                    _wake.Release();
                }
            }
            catch (SemaphoreFullException)
            {
                // Already woken.
            }
        }
    }

    /// <summary>Every few seconds, the exact spool size across nodes (for the bound and the backlog gauge).</summary>
    private async Task RecountAsync(CancellationToken ct)
    {
        var now = time.GetTimestamp();
        if (_countedAt != long.MinValue && time.GetElapsedTime(_countedAt, now) < Recount)
        {
            return;
        }

        _countedAt = now;
        await using var c = await database.OpenAsync(ct);
        backlog.Set(await c.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM analytics_spool", cancellationToken: ct)));
    }

    private void Describe(Exception ex, int failures)
    {
        var quiet = failures > 1 && failures % 20 != 0;
        switch (ex)
        {
            case ClickHouseException { IsAuthentication: true }:
                state.Status = SinkStatus.Refused;
                state.Error = "ClickHouse refused the credentials (Pasar:Analytics:ClickHouse:User, Pasar:Analytics:ClickHouse:Password)";
                break;
            case ClickHouseException:
                state.Status = SinkStatus.Refused;
                state.Error = "ClickHouse refused the batch or the schema";
                break;
            case ClickHouseUnavailableException:
                state.Status = SinkStatus.Unreachable;
                state.Error = "ClickHouse is unreachable (Pasar:Analytics:ClickHouse:Url)";
                break;
            default:
                state.Error = StoreFaults.IsUnavailable(ex) ? "the SQL spool is unavailable" : "the sink failed";
                if (!StoreFaults.IsUnavailable(ex))
                {
                    logger.LogError(ex, "Analytics sink failed; retrying");
                    return;
                }

                break;
        }

        if (!quiet)
        {
            logger.LogWarning("Analytics: {State}; {Backlog} events stay spooled and are sent when it works again ({Error})",
                state.Error, backlog.Rows, StoreFaults.Describe(ex));
        }
    }

    private sealed class SpoolRow
    {
        public long Id { get; init; }
        public string Payload { get; init; } = "";
    }
}
