using System.Diagnostics.Metrics;
using Pasar.Server.Platform;

namespace Pasar.Server.Analytics;

/// <summary>The sink's instruments at /metrics: backlog, drops, sent events, and whether ClickHouse takes them.</summary>
internal sealed class AnalyticsMetrics
{
    public AnalyticsMetrics(PasarMetrics metrics, SpoolBacklog backlog, AnalyticsSinkState state)
    {
        Dropped = metrics.Meter.CreateCounter<long>("pasar.analytics.dropped", description: "Viewing events dropped before the spool, by reason (queue_full, spool_full)");
        Sent = metrics.Meter.CreateCounter<long>("pasar.analytics.sent", description: "Viewing events ClickHouse acknowledged (a retried batch counts again)");
        SendFailures = metrics.Meter.CreateCounter<long>("pasar.analytics.send_failures", description: "Batches ClickHouse did not take, to be retried");
        metrics.Meter.CreateObservableGauge("pasar.analytics.spool_backlog", () => backlog.Rows, description: "Viewing events spooled in SQL and not yet in ClickHouse (all nodes)");
        metrics.Meter.CreateObservableGauge("pasar.analytics.sink_up", () => state.Status == SinkStatus.Delivering ? 1 : 0, description: "1 while ClickHouse takes the sink's batches");
    }

    public Counter<long> Dropped { get; }
    public Counter<long> Sent { get; }
    public Counter<long> SendFailures { get; }
}
