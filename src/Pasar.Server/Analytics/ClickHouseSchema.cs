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

    /// <summary>
    /// The changes, oldest first. Never edit one that has shipped: add the next number.
    /// <c>viewing_events</c>: plain MergeTree (18.16 has no insert deduplication for it, so queries count distinct
    /// event ids); monthly partitions, so retention drops whole months (18.16 has no TTL); ordered by seller and
    /// session, which every query filters on, then kind and time.
    /// </summary>
    public static readonly IReadOnlyList<(int Version, string Name, string Sql)> Changes =
    [
        (1, "viewing_events", """
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
            """),
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
            await clickHouse.ExecuteAsync(sql.Replace("{db}", db, StringComparison.Ordinal), ct);
            await clickHouse.InsertAsync("schema_journal", [System.Text.Json.JsonSerializer.Serialize(new { version, name, applied_at = now })], ct);
            done.Add(version);
        }

        return done;
    }
}
