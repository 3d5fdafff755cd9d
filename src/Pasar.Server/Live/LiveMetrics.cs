using System.Diagnostics.Metrics;
using Pasar.Server.Platform;

namespace Pasar.Server.Live;

/// <summary>Live ingest instruments, on Pasar's meter (exported at /metrics).</summary>
internal sealed class LiveMetrics
{
    public LiveMetrics(PasarMetrics metrics)
    {
        var meter = metrics.Meter;
        RtmpPublishers = meter.CreateUpDownCounter<long>("pasar.rtmp.publishers", description: "RTMP publishers connected and publishing");
        RtmpConnections = meter.CreateCounter<long>("pasar.rtmp.connections", description: "RTMP connections ended, by reason");
        FfmpegRestarts = meter.CreateCounter<long>("pasar.live.ffmpeg.restarts", description: "ffmpeg transcoders restarted after dying mid-stream");
        SegmentLag = meter.CreateHistogram<double>("pasar.live.segment.lag", unit: "s",
            description: "Age of a segment's newest frame when the segment appears in the live playlist");
        TranscodeFallbacks = meter.CreateCounter<long>("pasar.live.transcode.fallbacks",
            description: "Sessions given the passthrough rendition only because the transcoding capacity was in use");

        PartLatency = meter.CreateHistogram<double>("pasar.live.part.latency", unit: "s",
            description: "Delay between an LL-HLS part's last frame arriving and the part being published (in-process packager)");
        BlockedRequests = meter.CreateUpDownCounter<long>("pasar.live.hls.blocked", description: "LL-HLS requests held open waiting for a part or playlist");
        BlockedRequestsTotal = meter.CreateCounter<long>("pasar.live.hls.blocked.requests", description: "LL-HLS blocking requests, by outcome");
        ForwardedRequests = meter.CreateCounter<long>("pasar.live.hls.forwarded.requests",
            description: "HLS requests for a show ingested by another node, answered by forwarding, by source (upstream, shared, cache)");
        ForwardUpstreamRequests = meter.CreateCounter<long>("pasar.live.hls.forward.upstream",
            description: "Requests this node sent to the node ingesting a show, by kind (playlist, media) and outcome (status code, timeout, unreachable)");
        PackagingFailures = meter.CreateCounter<long>("pasar.live.packaging.failures", description: "In-process packaging failures survived or ending a session, by stage");
    }

    public Histogram<double> PartLatency { get; }
    public UpDownCounter<long> BlockedRequests { get; }
    public Counter<long> BlockedRequestsTotal { get; }
    public Counter<long> PackagingFailures { get; }
    public Counter<long> ForwardedRequests { get; }
    public Counter<long> ForwardUpstreamRequests { get; }

    public UpDownCounter<long> RtmpPublishers { get; }
    public Counter<long> RtmpConnections { get; }
    public Counter<long> FfmpegRestarts { get; }
    public Histogram<double> SegmentLag { get; }
    public Counter<long> TranscodeFallbacks { get; }
}
