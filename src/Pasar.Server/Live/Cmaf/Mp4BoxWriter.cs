using System.Buffers.Binary;
using System.Text;

namespace Pasar.Server.Live.Cmaf;

/// <summary>
/// Writes ISO BMFF boxes (ISO/IEC 14496-12) big-endian into a growing buffer. A box is opened with
/// <see cref="Begin"/>, which reserves its 32-bit size, and closed with <see cref="End"/>, which patches the size in.
/// </summary>
internal sealed class Mp4BoxWriter
{
    private byte[] _buffer;
    private int _length;

    public Mp4BoxWriter(int capacity = 1024) => _buffer = new byte[capacity];

    public int Length => _length;

    public ReadOnlySpan<byte> WrittenSpan => _buffer.AsSpan(0, _length);

    public byte[] ToArray() => WrittenSpan.ToArray();

    /// <summary>Opens a box of the given four-character type; returns where it starts, for <see cref="End"/>.</summary>
    public int Begin(string type)
    {
        var start = _length;
        UInt32(0);
        FourCc(type);
        return start;
    }

    /// <summary>Opens a full box (version and 24-bit flags after the type).</summary>
    public int BeginFull(string type, byte version, uint flags)
    {
        var start = Begin(type);
        UInt32(((uint)version << 24) | (flags & 0xFFFFFF));
        return start;
    }

    public void End(int start) => BinaryPrimitives.WriteUInt32BigEndian(_buffer.AsSpan(start), (uint)(_length - start));

    public void FourCc(string type)
    {
        var span = Grow(4);
        Encoding.ASCII.GetBytes(type.AsSpan(0, 4), span);
    }

    public void UInt8(int value) => Grow(1)[0] = (byte)value;

    public void UInt16(int value) => BinaryPrimitives.WriteUInt16BigEndian(Grow(2), (ushort)value);

    public void UInt24(int value)
    {
        var span = Grow(3);
        span[0] = (byte)(value >> 16);
        span[1] = (byte)(value >> 8);
        span[2] = (byte)value;
    }

    public void UInt32(uint value) => BinaryPrimitives.WriteUInt32BigEndian(Grow(4), value);

    public void Int32(int value) => BinaryPrimitives.WriteInt32BigEndian(Grow(4), value);

    public void UInt64(ulong value) => BinaryPrimitives.WriteUInt64BigEndian(Grow(8), value);

    public void Zeros(int count) => Grow(count).Clear();

    public void Bytes(ReadOnlySpan<byte> bytes) => bytes.CopyTo(Grow(bytes.Length));

    /// <summary>Overwrites a 32-bit value written earlier (a trun data offset known only once the moof is complete).</summary>
    public void PatchUInt32(int position, uint value) => BinaryPrimitives.WriteUInt32BigEndian(_buffer.AsSpan(position), value);

    private Span<byte> Grow(int count)
    {
        if (_length + count > _buffer.Length)
        {
            Array.Resize(ref _buffer, Math.Max(_buffer.Length * 2, _length + count));
        }

        var span = _buffer.AsSpan(_length, count);
        _length += count;
        return span;
    }
}
