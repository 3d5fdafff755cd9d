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
    }

    public UpDownCounter<long> RtmpPublishers { get; }
    public Counter<long> RtmpConnections { get; }
    public Counter<long> FfmpegRestarts { get; }
    public Histogram<double> SegmentLag { get; }
    public Counter<long> TranscodeFallbacks { get; }
}
