using System.Diagnostics.CodeAnalysis;
using Pasar.Rtmp;

namespace Pasar.Server.Live;

/// <summary>What the H.264 SPS of a produced MPEG-TS segment says: the codecs string and the coded picture size.</summary>
internal sealed record TsVideoConfig(string Codecs, int Width, int Height, double? FrameRate);

/// <summary>
/// Reads the first H.264 SPS out of an MPEG-TS segment, so that the master playlist advertises the profile and level
/// x264 actually chose (at <c>ultrafast</c> it picks Constrained Baseline whatever profile was asked for).
/// </summary>
internal static class TsVideoProbe
{
    private const int PacketSize = 188;

    public static bool TryRead(string path, [NotNullWhen(true)] out TsVideoConfig? config)
    {
        config = null;
        byte[] head;
        try
        {
            using var file = File.OpenRead(path);
            head = new byte[(int)Math.Min(file.Length, 64 * PacketSize)];
            file.ReadExactly(head);
        }
        catch (IOException)
        {
            return false;
        }

        return TryRead(head, out config);
    }

    public static bool TryRead(ReadOnlySpan<byte> ts, [NotNullWhen(true)] out TsVideoConfig? config)
    {
        config = null;
        var elementary = new List<byte>(4096);
        var videoPid = -1;
        for (var offset = 0; offset + PacketSize <= ts.Length && elementary.Count < 8192; offset += PacketSize)
        {
            //  | sync 0x47 | TEI PUSI prio PID(13) | scrambling(2) adaptation(2) counter(4) | [adaptation field] | payload |
            var packet = ts.Slice(offset, PacketSize);
            if (packet[0] != 0x47)
            {
                return false;
            }

            var pid = ((packet[1] & 0x1F) << 8) | packet[2];
            var payloadStart = (packet[1] & 0x40) != 0;
            var adaptation = (packet[3] >> 4) & 3;
            var start = 4;
            if ((adaptation & 2) != 0)
            {
                start += 1 + packet[4];
            }

            if ((adaptation & 1) == 0 || start >= PacketSize)
            {
                continue;
            }

            var payload = packet[start..];
            if (payloadStart && payload.Length > 9 && payload[0] == 0 && payload[1] == 0 && payload[2] == 1 && payload[3] is >= 0xE0 and <= 0xEF)
            {
                if (videoPid >= 0 && pid == videoPid && elementary.Count > 0)
                {
                    break; // the next access unit: the SPS, if any, was in the first one
                }

                videoPid = pid;
                var headerLength = 9 + payload[8];
                if (headerLength < payload.Length)
                {
                    elementary.AddRange(payload[headerLength..]);
                }
            }
            else if (pid == videoPid)
            {
                elementary.AddRange(payload);
            }
        }

        var es = elementary.ToArray().AsSpan();
        for (var i = 0; i + 4 < es.Length; i++)
        {
            if (es[i] != 0 || es[i + 1] != 0 || es[i + 2] != 1 || (es[i + 3] & 0x1F) != 7)
            {
                continue;
            }

            var nal = es[(i + 3)..];
            var end = 1;
            while (end + 2 < nal.Length && !(nal[end] == 0 && nal[end + 1] == 0 && nal[end + 2] <= 1))
            {
                end++;
            }

            if (end + 2 >= nal.Length)
            {
                end = nal.Length;
            }

            if (H264SequenceParameterSet.TryParse(nal[..end], out var sps))
            {
                config = new TsVideoConfig($"avc1.{sps.ProfileIdc:X2}{sps.ConstraintFlags:X2}{sps.LevelIdc:X2}", sps.Width, sps.Height, sps.FrameRate);
                return true;
            }
        }

        return false;
    }
}
