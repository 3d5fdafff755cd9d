using System.Buffers;

namespace Pasar.Rtmp;

/// <summary>One FLV tag; <see cref="Data"/> is a slice of the input.</summary>
/// <param name="Type">The tag type.</param>
/// <param name="Timestamp">Milliseconds, with the extended byte applied.</param>
/// <param name="Data">The tag body, not copied.</param>
public readonly record struct FlvTag(FlvTagType Type, uint Timestamp, ReadOnlySequence<byte> Data);

/// <summary>Reads an FLV stream written by <see cref="FlvWriter"/> or ffmpeg.</summary>
public static class FlvReader
{
    /// <summary>Reads the FLV header and PreviousTagSize0.</summary>
    /// <returns>False when more input is needed.</returns>
    /// <exception cref="InvalidDataException">The input is not FLV.</exception>
    public static bool TryReadHeader(ref SequenceReader<byte> reader, out bool hasAudio, out bool hasVideo)
    {
        hasAudio = hasVideo = false;
        Span<byte> header = stackalloc byte[9];
        if (!reader.TryCopyTo(header))
        {
            return false;
        }

        if (!header[..3].SequenceEqual("FLV"u8))
        {
            throw new InvalidDataException("Not an FLV stream.");
        }

        var dataOffset = (uint)((header[5] << 24) | (header[6] << 16) | (header[7] << 8) | header[8]);
        if (dataOffset < 9 || dataOffset > 1024)
        {
            throw new InvalidDataException($"Unexpected FLV data offset {dataOffset}.");
        }

        if (reader.Remaining < dataOffset + 4)
        {
            return false;
        }

        hasAudio = (header[4] & 0x04) != 0;
        hasVideo = (header[4] & 0x01) != 0;
        reader.Advance(dataOffset + 4);
        return true;
    }

    /// <summary>Reads one tag and its trailing PreviousTagSize.</summary>
    /// <returns>False when more input is needed; the reader is then left where it was.</returns>
    public static bool TryReadTag(ref SequenceReader<byte> reader, out FlvTag tag)
    {
        tag = default;
        Span<byte> header = stackalloc byte[FlvWriter.TagHeaderSize];
        if (!reader.TryCopyTo(header))
        {
            return false;
        }

        var size = (header[1] << 16) | (header[2] << 8) | header[3];
        if (reader.Remaining < FlvWriter.TagHeaderSize + size + 4)
        {
            return false;
        }

        var timestamp = (uint)((header[7] << 24) | (header[4] << 16) | (header[5] << 8) | header[6]);
        reader.Advance(FlvWriter.TagHeaderSize);
        tag = new FlvTag((FlvTagType)(header[0] & 0x1F), timestamp, reader.UnreadSequence.Slice(0, size));
        reader.Advance(size + 4);
        return true;
    }
}
