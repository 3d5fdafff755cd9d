using System.Buffers;
using System.Buffers.Binary;
using System.Security.Cryptography;

namespace Pasar.Rtmp;

/// <summary>
/// The plain RTMP handshake (RTMP 1.0 specification, section 5.2). The server answers with the "simple"
/// handshake: S1 carries zeros where a Flash Player 9 digest would go, so ffmpeg and OBS skip digest
/// verification, and S2 echoes C1.
/// </summary>
internal static class RtmpHandshake
{
    public const byte Version = 3;
    public const int PacketSize = 1536;

    /// <summary>Reads C0 and C1, copying C1 into <paramref name="c1"/> (1536 bytes).</summary>
    public static bool TryReadC0C1(ref SequenceReader<byte> reader, Span<byte> c1)
    {
        //  C0: | version (8) |           C1: | time (32) | zero (32) | random bytes (1528 bytes) |
        // The version is judged as soon as it arrives, before waiting for C1.
        if (!reader.TryPeek(out var version))
        {
            return false;
        }

        if (version != Version)
        {
            RtmpThrow.Protocol(RtmpErrorCode.UnsupportedVersion, $"RTMP version {version} requested; only plain RTMP (3) is supported.");
        }

        if (reader.Remaining < 1 + PacketSize)
        {
            return false;
        }

        reader.Advance(1);
        reader.TryCopyTo(c1[..PacketSize]);
        reader.Advance(PacketSize);
        return true;
    }

    /// <summary>Reads and discards C2 (the client's echo of S1, which nothing depends on).</summary>
    public static bool TryReadC2(ref SequenceReader<byte> reader)
    {
        //  C2: | time (32) | time2 (32) | random echo (1528 bytes) |
        if (reader.Remaining < PacketSize)
        {
            return false;
        }

        reader.Advance(PacketSize);
        return true;
    }

    /// <summary>Writes S0, S1 and S2 (S2 = C1) in one go.</summary>
    public static void WriteS0S1S2(IBufferWriter<byte> output, ReadOnlySpan<byte> c1, uint serverTime)
    {
        var span = output.GetSpan(1 + (2 * PacketSize));
        span[0] = Version;
        var s1 = span.Slice(1, PacketSize);
        BinaryPrimitives.WriteUInt32BigEndian(s1, serverTime);
        s1.Slice(4, 4).Clear();
        RandomNumberGenerator.Fill(s1[8..]);
        c1[..PacketSize].CopyTo(span.Slice(1 + PacketSize, PacketSize));
        output.Advance(1 + (2 * PacketSize));
    }
}
