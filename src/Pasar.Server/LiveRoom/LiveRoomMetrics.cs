using System.Diagnostics.Metrics;
using Pasar.Server.Platform;

namespace Pasar.Server.LiveRoom;

/// <summary>Live-room abuse and back-pressure instruments, on Pasar's meter (exported at /metrics).</summary>
internal sealed class LiveRoomMetrics
{
    public LiveRoomMetrics(PasarMetrics metrics)
    {
        var meter = metrics.Meter;
        HubCallsRefused = meter.CreateCounter<long>("pasar.hub.calls_refused", description: "Hub calls refused by a per-connection cap, by code");
        HubCallsFailed = meter.CreateCounter<long>("pasar.hub.calls_failed", description: "Hub calls that failed unexpectedly, by method");
        ViewEventsDropped = meter.CreateCounter<long>("pasar.room.view_events_dropped", description: "Viewing events dropped because the analytics queue was full");
    }

    public Counter<long> HubCallsRefused { get; }
    public Counter<long> HubCallsFailed { get; }
    public Counter<long> ViewEventsDropped { get; }
}
