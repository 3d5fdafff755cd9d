using Pasar.Rtmp;

namespace Pasar.Server.Live.Cmaf;

/// <summary>
/// What a rendition's packager needs to open a run: the H.264 decoder configuration and the AAC configuration, as
/// their FLV sequence-header messages (from the publisher for the passthrough rendition, from ffmpeg for a rung), and
/// the picture's size and frame rate.
/// </summary>
internal sealed record StreamFormat(
    AvcDecoderConfiguration Video,
    ReadOnlyMemory<byte> VideoSequenceHeader,
    AacAudioSpecificConfig? Audio,
    ReadOnlyMemory<byte> AudioSequenceHeader,
    int Width,
    int Height,
    double? FrameRate)
{
    /// <summary>The publisher's format so far; null until its video sequence header has arrived.</summary>
    public static StreamFormat? From(RtmpPublishContext context) =>
        context.Video is not { } video || context.VideoSequenceHeader.Length <= 5
            ? null
            : new StreamFormat(video, context.VideoSequenceHeader, context.Audio, context.AudioSequenceHeader,
                video.Width ?? context.Metadata?.Width ?? 0, video.Height ?? context.Metadata?.Height ?? 0,
                video.Sps?.FrameRate ?? context.Metadata?.FrameRate);
}
