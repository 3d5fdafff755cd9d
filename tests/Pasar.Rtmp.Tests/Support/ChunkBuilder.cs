using System.Buffers.Binary;

namespace Pasar.Rtmp.Tests.Support;

/// <summary>Writes raw chunks with any header type, for streams a real encoder could send.</summary>
internal sealed class ChunkBuilder
{
    private readonly List<byte> _bytes = [];

    public byte[] ToArray() => [.. _bytes];

    public ChunkBuilder Basic(int format, int chunkStreamId)
    {
        Span<byte> header = stackalloc byte[3];
        var length = ChunkStreamWriter.WriteBasicHeader(header, format, chunkStreamId);
        _bytes.AddRange(header[..length].ToArray());
        return this;
    }

    public ChunkBuilder Type0(int chunkStreamId, uint timestamp, int length, byte typeId, uint streamId)
    {
        Basic(0, chunkStreamId);
        UInt24(Math.Min(timestamp, 0xFFFFFF));
        UInt24((uint)length);
        _bytes.Add(typeId);
        Span<byte> id = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(id, streamId);
        _bytes.AddRange(id.ToArray());
        return timestamp >= 0xFFFFFF ? Extended(timestamp) : this;
    }

    public ChunkBuilder Type1(int chunkStreamId, uint delta, int length, byte typeId)
    {
        Basic(1, chunkStreamId);
        UInt24(Math.Min(delta, 0xFFFFFF));
        UInt24((uint)length);
        _bytes.Add(typeId);
        return delta >= 0xFFFFFF ? Extended(delta) : this;
    }

    public ChunkBuilder Type2(int chunkStreamId, uint delta)
    {
        Basic(2, chunkStreamId);
        UInt24(Math.Min(delta, 0xFFFFFF));
        return delta >= 0xFFFFFF ? Extended(delta) : this;
    }

    public ChunkBuilder Type3(int chunkStreamId) => Basic(3, chunkStreamId);

    public ChunkBuilder Extended(uint timestamp)
    {
        Span<byte> value = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(value, timestamp);
        _bytes.AddRange(value.ToArray());
        return this;
    }

    public ChunkBuilder Payload(ReadOnlySpan<byte> payload)
    {
        _bytes.AddRange(payload.ToArray());
        return this;
    }

    public ChunkBuilder Bytes(params byte[] bytes)
    {
        _bytes.AddRange(bytes);
        return this;
    }

    private void UInt24(uint value)
    {
        _bytes.Add((byte)(value >> 16));
        _bytes.Add((byte)(value >> 8));
        _bytes.Add((byte)value);
    }
}
