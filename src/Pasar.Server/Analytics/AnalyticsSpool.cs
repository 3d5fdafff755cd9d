using System.Data.Common;
using Dapper;
using Microsoft.Extensions.Options;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Analytics;

/// <summary>
/// The spool's size across nodes: exact after each recount (every few seconds, by the sink), kept current in
/// between by what this node wrote and deleted. The bound is checked against it.
/// </summary>
internal sealed class SpoolBacklog
{
    private long _rows;

    public long Rows => Interlocked.Read(ref _rows);

    public void Add(long rows) => Interlocked.Add(ref _rows, rows);

    public void Set(long rows) => Interlocked.Exchange(ref _rows, rows);
}

/// <summary>
/// Writes viewing events into the SQL spool (<c>analytics_spool</c>) in batches, one transaction per tick. Two
/// bounds, both counted in <c>pasar_analytics_dropped_total</c>: the in-memory queue in front of SQL
/// (<see cref="QueueCapacity"/>), and the spool itself (<c>Pasar:Analytics:SpoolCapacity</c>). When the spool is
/// full the newest events are the ones dropped: what is spooled was accepted first and stays until ClickHouse takes
/// it (ADR 0018). Purchases are spooled in their own transaction and never dropped.
/// </summary>
internal sealed class AnalyticsSpool(
    Database database, IOptions<AnalyticsOptions> options, SpoolBacklog backlog, AnalyticsMetrics metrics, TimeProvider time, ILogger<AnalyticsSpool> logger)
    : BatchedWriter<AnalyticsEvent>(database, logger, QueueCapacity), IAnalyticsRecorder
{
    public const int QueueCapacity = 100_000;

    private const string Insert = "INSERT INTO analytics_spool (event_id, payload, created_at) VALUES (@EventId, @Payload, @CreatedAt)";
    private readonly int _capacity = options.Value.SpoolCapacity;

    /// <summary>Set when rows were committed, so the sink sends a full batch without waiting for its tick.</summary>
    public event Action<int>? Spooled;

    public bool Enabled => true;

    public void Record(AnalyticsEvent e)
    {
        if (!Enqueue(e))
        {
            metrics.Dropped.Add(1, new KeyValuePair<string, object?>("reason", "queue_full"));
        }
    }

    public async Task RecordAsync(DbConnection connection, DbTransaction transaction, AnalyticsEvent e, CancellationToken ct)
    {
        await connection.ExecuteAsync(new CommandDefinition(Insert, Row(e), transaction, cancellationToken: ct));
        backlog.Add(1);
        Spooled?.Invoke(1);
    }

    protected override async Task WriteAsync(DbConnection c, DbTransaction tx, IReadOnlyList<AnalyticsEvent> batch, CancellationToken ct)
    {
        if (backlog.Rows + batch.Count >= _capacity / 2)
        {
            // Near the bound the estimate is not good enough: count exactly, in this transaction.
            backlog.Set(await c.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM analytics_spool", transaction: tx, cancellationToken: ct)));
        }

        var room = (int)Math.Clamp(_capacity - backlog.Rows, 0, batch.Count);
        if (room < batch.Count)
        {
            metrics.Dropped.Add(batch.Count - room, new KeyValuePair<string, object?>("reason", "spool_full"));
        }

        if (room == 0)
        {
            return;
        }

        await c.ExecuteAsync(new CommandDefinition(Insert, batch.Take(room).Select(Row), tx, cancellationToken: ct));
        backlog.Add(room);
        Spooled?.Invoke(room);
    }

    private object Row(AnalyticsEvent e) => new { e.EventId, Payload = e.ToJsonLine(), CreatedAt = time.GetUtcNow().ToUnixTimeMilliseconds() };
}

/// <summary>The recorder when ClickHouse is not configured: the live room's SQL tables are the analytics.</summary>
internal sealed class SqlOnlyAnalytics : IAnalyticsRecorder, ISessionAnalytics
{
    public bool Enabled => false;

    public void Record(AnalyticsEvent e)
    {
    }

    public Task RecordAsync(DbConnection connection, DbTransaction transaction, AnalyticsEvent e, CancellationToken ct) => Task.CompletedTask;

    public Task<SessionFigures> SessionAsync(string sellerId, string sessionId, CancellationToken ct) =>
        throw new InvalidOperationException("ClickHouse is not configured (Pasar:Analytics:ClickHouse:Url is empty).");

    public Task<IReadOnlyDictionary<string, SessionFigures>> SessionsAsync(string sellerId, IReadOnlyCollection<string> sessionIds, CancellationToken ct) =>
        throw new InvalidOperationException("ClickHouse is not configured (Pasar:Analytics:ClickHouse:Url is empty).");
}
