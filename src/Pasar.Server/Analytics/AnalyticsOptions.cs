namespace Pasar.Server.Analytics;

/// <summary>The <c>Pasar:Analytics</c> section (SPEC §13).</summary>
internal sealed class AnalyticsOptions
{
    public const string Section = "Pasar:Analytics";

    public ClickHouseOptions ClickHouse { get; set; } = new();

    /// <summary>
    /// Most events the SQL spool holds (all nodes). When it is full, new viewing events are dropped and counted
    /// (<c>pasar_analytics_dropped_total</c>); purchases are never dropped (ADR 0018).
    /// </summary>
    public int SpoolCapacity { get; set; } = 1_000_000;

    /// <summary>The sink sends as soon as this many events wait, or every <see cref="FlushInterval"/>.</summary>
    public int BatchSize { get; set; } = 1_000;

    /// <summary>The longest an event waits in the spool while ClickHouse is up.</summary>
    public TimeSpan FlushInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>How long a node's claim on spooled rows lasts without renewal (another node takes over after).</summary>
    public TimeSpan Lease { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Months of events kept in ClickHouse (old monthly partitions are dropped); 0 keeps everything.</summary>
    public int RetentionMonths { get; set; }

    public bool Enabled => !string.IsNullOrWhiteSpace(ClickHouse.Url);
}

/// <summary>The <c>Pasar:Analytics:ClickHouse</c> section: the HTTP interface, database and credentials.</summary>
internal sealed class ClickHouseOptions
{
    /// <summary>e.g. <c>http://127.0.0.1:8123</c>; empty keeps analytics in SQL.</summary>
    public string? Url { get; set; }

    public string Database { get; set; } = "pasar";

    public string User { get; set; } = "default";

    public string? Password { get; set; }
}
