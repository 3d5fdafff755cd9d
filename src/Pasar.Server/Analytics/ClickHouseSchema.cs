namespace Pasar.Server.Analytics;

/// <summary>
/// ClickHouse's schema, numbered like the SQL migrations: each change is applied once and recorded in
/// <c>schema_journal</c>, so a restart applies nothing twice. Every script is idempotent as well
/// (<c>IF NOT EXISTS</c>), because two nodes starting together may both apply it before either records it.
/// <c>{db}</c> stands for <c>Pasar:Analytics:ClickHouse:Database</c>.
/// </summary>
internal static class ClickHouseSchema
{
    public const string EventsTable = "viewing_events";

    /// <summary>One row per view (per day it ran), folded from <see cref="EventsTable"/> by a materialized view.</summary>
    public const string ViewSpansTable = "view_spans";

    /// <summary>The tables whose monthly partitions retention drops.</summary>
    public static readonly IReadOnlyList<string> PartitionedTables = [EventsTable, ViewSpansTable];

    // What view_spans keeps of a view's events: min and max only, which a retried batch stored twice cannot move.
    private const string ViewSpansSelect = """
        SELECT seller_id, session_id, view_id, event_date,
            minIfState(at_ms, kind = 'view_start') AS started, minIfState(at_ms, kind = 'view_end') AS ended, maxState(at_ms) AS last,
            maxState(kind = 'view_start') AS has_start, maxState(kind = 'view_end') AS has_end
        FROM {db}.viewing_events WHERE kind IN ('view_start', 'heartbeat', 'view_end')
        GROUP BY seller_id, session_id, view_id, event_date
        """;

    /// <summary>
    /// The changes, oldest first. Never edit one that has shipped: add the next number.
    /// <c>viewing_events</c>: plain MergeTree (18.16 has no insert deduplication for it, so queries count distinct
    /// event ids); monthly partitions, so retention drops whole months (18.16 has no TTL); ordered by seller and
    /// session, which every query filters on, then kind and time.
    /// </summary>
    /// <c>view_spans</c> (2): a view's start, end and last event, so average watch time reads one row per view
    /// instead of every heartbeat. AggregatingMergeTree keeps only min and max states, which a duplicated event
    /// cannot move; the materialized view fills it on every insert, and the change copies what was there before
    /// (a row inserted while it runs may be folded twice, which changes no min or max).
    /// </summary>
    public static readonly IReadOnlyList<(int Version, string Name, string[] Sql)> Changes =
    [
        (1, "viewing_events", ["""
            CREATE TABLE IF NOT EXISTS {db}.viewing_events (
                event_id      String,
                kind          String,
                session_id    String,
                seller_id     String,
                viewer_id     String,
                user_id       String,
                view_id       String,
                product_id    String,
                flash_sale_id String,
                amount_minor  Int64,
                currency      String,
                at_ms         Int64,
                event_date    Date
            ) ENGINE = MergeTree()
            PARTITION BY toYYYYMM(event_date)
            ORDER BY (seller_id, session_id, kind, at_ms)
            """]),
        (2, "view_spans", [
            """
            CREATE TABLE IF NOT EXISTS {db}.view_spans (
                seller_id  String,
                session_id String,
                view_id    String,
                event_date Date,
                started    AggregateFunction(minIf, Int64, UInt8),
                ended      AggregateFunction(minIf, Int64, UInt8),
                last       AggregateFunction(max, Int64),
                has_start  AggregateFunction(max, UInt8),
                has_end    AggregateFunction(max, UInt8)
            ) ENGINE = AggregatingMergeTree()
            PARTITION BY toYYYYMM(event_date)
            ORDER BY (seller_id, session_id, view_id)
            """,
            "CREATE MATERIALIZED VIEW IF NOT EXISTS {db}.view_spans_mv TO {db}.view_spans AS " + ViewSpansSelect,
            "INSERT INTO {db}.view_spans " + ViewSpansSelect,
        ]),
    ];

    /// <summary>Creates the database and the journal if missing, then applies the changes the journal lacks.</summary>
    public static async Task<IReadOnlyList<int>> ApplyAsync(ClickHouseHttp clickHouse, CancellationToken ct)
    {
        var db = clickHouse.Database;
        await clickHouse.ExecuteAsync($"CREATE DATABASE IF NOT EXISTS {db}", ct);
        await clickHouse.ExecuteAsync(
            $"CREATE TABLE IF NOT EXISTS {db}.schema_journal (version UInt32, name String, applied_at DateTime) ENGINE = MergeTree() ORDER BY version", ct);
        var applied = (await clickHouse.QueryAsync($"SELECT DISTINCT version FROM {db}.schema_journal", ct))
            .Select(r => (int)ClickHouseHttp.Integer(r, "version")).ToHashSet();
        var now = DateTime.UtcNow.ToString("yyyy-MM-dd HH:mm:ss", System.Globalization.CultureInfo.InvariantCulture);
        var done = new List<int>();
        foreach (var (version, name, sql) in Changes.Where(c => !applied.Contains(c.Version)))
        {
            foreach (var statement in sql)
            {
                await clickHouse.ExecuteAsync(statement.Replace("{db}", db, StringComparison.Ordinal), ct);
            }

            await clickHouse.InsertAsync("schema_journal", [System.Text.Json.JsonSerializer.Serialize(new { version, name, applied_at = now })], ct);
            done.Add(version);
        }

        return done;
    }
}
