using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;

namespace Pasar.Rtmp;

/// <summary>FLV tag types (FLV 10.1, E.4.1).</summary>
public enum FlvTagType : byte
{
    /// <summary>Audio tag; the data is an RTMP audio message payload.</summary>
    Audio = 8,

    /// <summary>Video tag; the data is an RTMP video message payload.</summary>
    Video = 9,

    /// <summary>Script data (AMF0 <c>onMetaData</c>).</summary>
    ScriptData = 18,
}

/// <summary>
/// Writes an FLV stream (Adobe FLV 10.1, annex E): the file header, then tags whose data is exactly the RTMP
/// message payload, which is why muxing published RTMP into FLV needs no transcoding. Feed the result to
/// <c>ffmpeg -f flv -i pipe:0</c>. Not thread-safe.
/// </summary>
public sealed class FlvWriter
{
    /// <summary>Size of the FLV file header plus PreviousTagSize0.</summary>
    public const int HeaderSize = 13;

    /// <summary>Size of an FLV tag header.</summary>
    public const int TagHeaderSize = 11;

    private readonly PipeWriter _output;

    /// <summary>Writes to a pipe (for example a Kestrel transport or <see cref="PipeWriter.Create(Stream, StreamPipeWriterOptions?)"/>).</summary>
    public FlvWriter(PipeWriter output) => _output = output ?? throw new ArgumentNullException(nameof(output));

    /// <summary>Writes to a stream (for example ffmpeg's standard input), leaving it open.</summary>
    public FlvWriter(Stream output)
        : this(PipeWriter.Create(output ?? throw new ArgumentNullException(nameof(output)), new StreamPipeWriterOptions(leaveOpen: true)))
    {
    }

    /// <summary>Bytes written so far, flushed or not.</summary>
    public long BytesWritten { get; private set; }

    /// <summary>Writes the 9-byte FLV header and PreviousTagSize0.</summary>
    public void WriteHeader(bool hasAudio = true, bool hasVideo = true) => BytesWritten += WriteHeader(_output, hasAudio, hasVideo);

    /// <summary>Writes one tag with its trailing PreviousTagSize.</summary>
    public void WriteTag(FlvTagType type, uint timestamp, ReadOnlySpan<byte> data) => BytesWritten += WriteTag(_output, type, timestamp, data);

    /// <summary>Writes an audio or video packet received from a publisher.</summary>
    public void WriteMedia(in RtmpMediaPacket packet) =>
        WriteTag(packet.Type == RtmpMediaType.Audio ? FlvTagType.Audio : FlvTagType.Video, packet.Timestamp, packet.Payload.Span);

    /// <summary>Writes the publisher's <c>onMetaData</c> as a script data tag at <paramref name="timestamp"/>.</summary>
    public void WriteMetadata(RtmpStreamMetadata metadata, uint timestamp = 0)
    {
        ArgumentNullException.ThrowIfNull(metadata);
        WriteTag(FlvTagType.ScriptData, timestamp, metadata.ScriptData.Span);
    }

    /// <summary>Flushes what was written to the underlying pipe or stream.</summary>
    /// <returns>False when the reader side has gone away (for example ffmpeg exited).</returns>
    public async ValueTask<bool> FlushAsync(CancellationToken cancellationToken = default)
    {
        var result = await _output.FlushAsync(cancellationToken).ConfigureAwait(false);
        return !result.IsCompleted;
    }

    /// <summary>Flushes and completes the underlying pipe.</summary>
    public async ValueTask CompleteAsync()
    {
        await _output.FlushAsync().ConfigureAwait(false);
        await _output.CompleteAsync().ConfigureAwait(false);
    }

    /// <summary>Writes the FLV header and PreviousTagSize0 into any buffer writer.</summary>
    /// <returns>The number of bytes written.</returns>
    public static int WriteHeader(IBufferWriter<byte> output, bool hasAudio, bool hasVideo)
    {
        //  | 'F' 'L' 'V' | Version UI8 = 1 | Reserved UB[5] | Audio UB[1] | Reserved UB[1] | Video UB[1] |
        //  | DataOffset UI32 = 9 | PreviousTagSize0 UI32 = 0 |
        ArgumentNullException.ThrowIfNull(output);
        var span = output.GetSpan(HeaderSize);
        "FLV"u8.CopyTo(span);
        span[3] = 1;
        span[4] = (byte)((hasAudio ? 0x04 : 0) | (hasVideo ? 0x01 : 0));
        BinaryPrimitives.WriteUInt32BigEndian(span[5..], 9);
        BinaryPrimitives.WriteUInt32BigEndian(span[9..], 0);
        output.Advance(HeaderSize);
        return HeaderSize;
    }

    /// <summary>Writes one tag and its PreviousTagSize into any buffer writer.</summary>
    /// <returns>The number of bytes written.</returns>
    public static int WriteTag(IBufferWriter<byte> output, FlvTagType type, uint timestamp, ReadOnlySpan<byte> data)
    {
        //  | Reserved UB[2] | Filter UB[1] | TagType UB[5] | DataSize UI24 | Timestamp UI24 |
        //  | TimestampExtended UI8 (bits 31..24) | StreamID UI24 = 0 | Data | PreviousTagSize UI32 = 11 + DataSize |
        ArgumentNullException.ThrowIfNull(output);
        if (data.Length > 0xFFFFFF)
        {
            throw new ArgumentOutOfRangeException(nameof(data), data.Length, "FLV tag data is limited to 16 MiB - 1.");
        }

        var header = output.GetSpan(TagHeaderSize);
        header[0] = (byte)type;
        ChunkStreamWriter.WriteUInt24(header[1..], (uint)data.Length);
        ChunkStreamWriter.WriteUInt24(header[4..], timestamp & 0xFFFFFF);
        header[7] = (byte)(timestamp >> 24);
        ChunkStreamWriter.WriteUInt24(header[8..], 0);
        output.Advance(TagHeaderSize);
        output.Write(data);
        BinaryPrimitives.WriteUInt32BigEndian(output.GetSpan(4), (uint)(TagHeaderSize + data.Length));
        output.Advance(4);
        return TagHeaderSize + data.Length + 4;
    }
}
