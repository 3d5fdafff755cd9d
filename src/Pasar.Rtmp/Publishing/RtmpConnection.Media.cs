namespace Pasar.Rtmp;

// Media demuxing: audio, video, data and aggregate messages of the publishing stream become codec
// configuration, frames and metadata for the handler.
public sealed partial class RtmpConnection
{
    private const string Unsupported = "Pasar accepts H.264 video and AAC audio; got ";

    private async ValueTask<RtmpConnectionResult?> HandleAggregateAsync(RtmpMessage message, CancellationToken cancellationToken)
    {
        //  Aggregate message (7.1.6.1): sub-messages laid out like FLV tags,
        //  | type (1) | payload length (3) | timestamp (3) | timestamp high (1) | stream id (3) | payload | back pointer (4) |
        //  The first sub-message takes the aggregate's timestamp; the others keep their offsets from it.
        var payload = message.Payload;
        var offset = 0;
        uint? first = null;
        while (offset < payload.Length)
        {
            var header = payload.Span[offset..];
            if (header.Length < FlvWriter.TagHeaderSize)
            {
                RtmpThrow.Malformed("Aggregate message ends inside a sub-message header.");
            }

            var typeId = header[0];
            var size = (header[1] << 16) | (header[2] << 8) | header[3];
            var timestamp = (uint)((header[7] << 24) | (header[4] << 16) | (header[5] << 8) | header[6]);
            if (header.Length < FlvWriter.TagHeaderSize + size + 4)
            {
                RtmpThrow.Malformed("Aggregate message ends inside a sub-message.");
            }

            first ??= timestamp;
            var sub = new RtmpMessage(message.ChunkStreamId, unchecked(message.Timestamp + timestamp - first.Value), typeId, message.StreamId, payload.Slice(offset + FlvWriter.TagHeaderSize, size));
            offset += FlvWriter.TagHeaderSize + size + 4;
            if (typeId is RtmpMessageType.Audio or RtmpMessageType.Video or RtmpMessageType.DataAmf0 &&
                await HandleMessageAsync(sub, cancellationToken).ConfigureAwait(false) is { } end)
            {
                return end;
            }
        }

        return null;
    }

    private async ValueTask HandleDataAsync(RtmpMessage message, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        var publish = _publish;
        if (publish is null || message.StreamId != publish.StreamId || payload.IsEmpty)
        {
            return;
        }

        // @setDataFrame("onMetaData", properties) from the publisher becomes the FLV script tag onMetaData(properties).
        var name = RtmpCommand.ReadDataName(payload, out var rest);
        var scriptData = name switch
        {
            "@setDataFrame" => payload[rest..],
            "onMetaData" => payload,
            _ => ReadOnlyMemory<byte>.Empty,
        };

        if (scriptData.IsEmpty || RtmpCommand.ReadMetadata(scriptData, _options.MaxAmfDepth) is not { } properties)
        {
            return;
        }

        var metadata = RtmpStreamMetadata.Create(properties, scriptData.ToArray());
        publish.Metadata = metadata;
        _inHostCall = true;
        await _handler.OnMetadataAsync(publish, metadata, cancellationToken).ConfigureAwait(false);
        _inHostCall = false;
    }

    private async ValueTask<RtmpConnectionResult?> HandleMediaAsync(RtmpMessage message, CancellationToken cancellationToken)
    {
        var publish = _publish;
        if (publish is null || message.StreamId != publish.StreamId || message.Payload.IsEmpty)
        {
            return null;
        }

        var payload = message.Payload;
        RtmpMediaPacket packet;
        if (message.TypeId == RtmpMessageType.Video)
        {
            if (!FlvMediaHeaders.TryParseVideo(payload.Span, out var video))
            {
                RtmpThrow.Malformed($"Video message of {payload.Length} bytes is too short for its header.");
            }

            if (video.IsEnhanced || video.CodecId != FlvMediaHeaders.AvcCodecId)
            {
                return await RejectCodecAsync(publish, FlvMediaHeaders.VideoCodecName(video), cancellationToken).ConfigureAwait(false);
            }

            if (video.FrameType == FlvMediaHeaders.VideoInfoFrame)
            {
                return null;
            }

            var sequenceHeader = video.AvcPacketType == FlvMediaHeaders.SequenceHeader;
            if (sequenceHeader)
            {
                if (!AvcDecoderConfiguration.TryParse(payload.Span[5..], out var configuration))
                {
                    RtmpThrow.Protocol(RtmpErrorCode.InvalidCodecConfiguration, "The H.264 sequence header (AVCDecoderConfigurationRecord) is invalid.");
                }

                publish.Video = configuration;
                publish.VideoSequenceHeader = payload.ToArray();
            }

            var keyframe = video.FrameType == FlvMediaHeaders.KeyFrame && video.AvcPacketType == 1;
            publish.VideoMessages++;
            if (keyframe)
            {
                publish.Keyframes++;
            }

            packet = new RtmpMediaPacket(RtmpMediaType.Video, message.Timestamp, payload, keyframe, sequenceHeader, video.CompositionTime);
        }
        else
        {
            if (!FlvMediaHeaders.TryParseAudio(payload.Span, out var audio))
            {
                RtmpThrow.Malformed($"Audio message of {payload.Length} bytes is too short for its header.");
            }

            if (audio.SoundFormat != FlvMediaHeaders.AacSoundFormat)
            {
                return await RejectCodecAsync(publish, FlvMediaHeaders.AudioCodecName(audio.SoundFormat), cancellationToken).ConfigureAwait(false);
            }

            var sequenceHeader = audio.AacPacketType == FlvMediaHeaders.SequenceHeader;
            if (sequenceHeader)
            {
                if (!AacAudioSpecificConfig.TryParse(payload.Span[2..], out var configuration))
                {
                    RtmpThrow.Protocol(RtmpErrorCode.InvalidCodecConfiguration, "The AAC sequence header (AudioSpecificConfig) is invalid.");
                }

                publish.Audio = configuration;
                publish.AudioSequenceHeader = payload.ToArray();
            }

            publish.AudioMessages++;
            packet = new RtmpMediaPacket(RtmpMediaType.Audio, message.Timestamp, payload, false, sequenceHeader, 0);
        }

        publish.MediaBytes += payload.Length;
        _inHostCall = true;
        await _handler.OnMediaAsync(publish, packet, cancellationToken).ConfigureAwait(false);
        _inHostCall = false;
        return null;
    }

    private async ValueTask<RtmpConnectionResult> RejectCodecAsync(RtmpPublishContext publish, string codec, CancellationToken cancellationToken)
    {
        var description = Unsupported + codec + ".";
        WriteCommand(StreamChunkStreamId, publish.StreamId, "onStatus", 0, AmfValue.Null, Status("error", "NetStream.Publish.Rejected", description));
        await _transport.Output.FlushAsync(cancellationToken).ConfigureAwait(false);
        return new RtmpConnectionResult(RtmpEndReason.UnsupportedCodec, description);
    }
}
