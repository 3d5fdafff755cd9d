using System.Buffers;
using System.Buffers.Binary;

namespace Pasar.Rtmp;

/// <summary>
/// Splits outgoing messages into chunks: a type 0 header for the first chunk and type 3 headers for the rest,
/// which every client accepts and keeps the writer stateless across chunk streams.
/// </summary>
internal sealed class ChunkStreamWriter
{
    public int ChunkSize { get; set; } = ChunkStreamReader.DefaultChunkSize;

    public void WriteMessage(IBufferWriter<byte> output, int chunkStreamId, byte typeId, uint timestamp, uint streamId, ReadOnlySpan<byte> payload)
    {
        if (chunkStreamId is < 2 or > 65599)
        {
            throw new ArgumentOutOfRangeException(nameof(chunkStreamId), chunkStreamId, "Chunk stream ids run from 2 to 65599.");
        }

        if (payload.Length > 0xFFFFFF)
        {
            throw new ArgumentOutOfRangeException(nameof(payload), payload.Length, "RTMP messages are limited to 16 MiB - 1.");
        }

        var extended = timestamp >= 0xFFFFFF;
        var offset = 0;
        var first = true;
        do
        {
            var size = Math.Min(ChunkSize, payload.Length - offset);
            var span = output.GetSpan(3 + 11 + 4 + size);
            var written = WriteBasicHeader(span, first ? 0 : 3, chunkStreamId);
            if (first)
            {
                WriteUInt24(span[written..], extended ? 0xFFFFFF : timestamp);
                WriteUInt24(span[(written + 3)..], (uint)payload.Length);
                span[written + 6] = typeId;
                BinaryPrimitives.WriteUInt32LittleEndian(span[(written + 7)..], streamId);
                written += 11;
            }

            if (extended)
            {
                BinaryPrimitives.WriteUInt32BigEndian(span[written..], timestamp);
                written += 4;
            }

            payload.Slice(offset, size).CopyTo(span[written..]);
            output.Advance(written + size);
            offset += size;
            first = false;
        }
        while (offset < payload.Length);
    }

    internal static int WriteBasicHeader(Span<byte> span, int format, int chunkStreamId)
    {
        if (chunkStreamId < 64)
        {
            span[0] = (byte)((format << 6) | chunkStreamId);
            return 1;
        }

        if (chunkStreamId < 320)
        {
            span[0] = (byte)(format << 6);
            span[1] = (byte)(chunkStreamId - 64);
            return 2;
        }

        span[0] = (byte)((format << 6) | 1);
        span[1] = (byte)((chunkStreamId - 64) & 0xFF);
        span[2] = (byte)((chunkStreamId - 64) >> 8);
        return 3;
    }

    internal static void WriteUInt24(Span<byte> span, uint value)
    {
        span[0] = (byte)(value >> 16);
        span[1] = (byte)(value >> 8);
        span[2] = (byte)value;
    }
}
