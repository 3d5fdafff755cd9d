using System.Text;

namespace Pasar.Rtmp;

/// <summary>What the first bytes of a video message say (FLV 10.1 VIDEODATA and AVCVIDEOPACKET headers).</summary>
internal readonly record struct VideoTagInfo(int FrameType, int CodecId, bool IsEnhanced, int AvcPacketType, int CompositionTime, string? FourCc);

/// <summary>What the first bytes of an audio message say (FLV 10.1 AUDIODATA and AACAUDIODATA headers).</summary>
internal readonly record struct AudioTagInfo(int SoundFormat, int AacPacketType);

internal static class FlvMediaHeaders
{
    public const int AvcCodecId = 7;
    public const int AacSoundFormat = 10;
    public const int KeyFrame = 1;
    public const int VideoInfoFrame = 5;
    public const int SequenceHeader = 0;

    public static bool TryParseVideo(ReadOnlySpan<byte> payload, out VideoTagInfo info)
    {
        //  VIDEODATA:      | FrameType UB[4] | CodecID UB[4] |
        //  AVCVIDEOPACKET: | AVCPacketType UI8 (0 seq header, 1 NALU, 2 end of seq) | CompositionTime SI24 |
        //  Enhanced RTMP:  | IsExHeader UB[1] | FrameType UB[3] | PacketType UB[4] | FourCC UI32 | ...
        info = default;
        if (payload.IsEmpty)
        {
            return false;
        }

        var first = payload[0];
        if ((first & 0x80) != 0)
        {
            var fourCc = payload.Length >= 5 ? Encoding.ASCII.GetString(payload.Slice(1, 4)) : "?";
            info = new VideoTagInfo((first >> 4) & 0x07, -1, true, -1, 0, fourCc);
            return true;
        }

        var frameType = first >> 4;
        var codecId = first & 0x0F;
        if (codecId != AvcCodecId || frameType == VideoInfoFrame)
        {
            info = new VideoTagInfo(frameType, codecId, false, -1, 0, null);
            return true;
        }

        if (payload.Length < 5)
        {
            return false;
        }

        // SI24, sign-extended.
        var composition = (payload[2] << 16) | (payload[3] << 8) | payload[4];
        composition = (composition << 8) >> 8;
        info = new VideoTagInfo(frameType, codecId, false, payload[1], composition, null);
        return true;
    }

    public static bool TryParseAudio(ReadOnlySpan<byte> payload, out AudioTagInfo info)
    {
        //  AUDIODATA:    | SoundFormat UB[4] | SoundRate UB[2] | SoundSize UB[1] | SoundType UB[1] |
        //  AACAUDIODATA: | AACPacketType UI8 (0 sequence header, 1 raw) |
        //  For AAC the rate, size and type bits are fixed placeholders; the AudioSpecificConfig is authoritative.
        info = default;
        if (payload.IsEmpty)
        {
            return false;
        }

        var format = payload[0] >> 4;
        if (format != AacSoundFormat)
        {
            info = new AudioTagInfo(format, -1);
            return true;
        }

        if (payload.Length < 2)
        {
            return false;
        }

        info = new AudioTagInfo(format, payload[1]);
        return true;
    }

    public static string VideoCodecName(in VideoTagInfo info) => info.IsEnhanced
        ? $"enhanced RTMP video ({info.FourCc})"
        : info.CodecId switch
        {
            2 => "Sorenson H.263 video",
            3 => "Screen video",
            4 => "On2 VP6 video",
            5 => "On2 VP6 alpha video",
            6 => "Screen video v2",
            7 => "H.264 video",
            12 => "HEVC video (non-standard FLV codec id 12)",
            13 => "AV1 video (non-standard FLV codec id 13)",
            _ => $"video codec id {info.CodecId}",
        };

    public static string AudioCodecName(int soundFormat) => soundFormat switch
    {
        0 => "linear PCM audio",
        1 => "ADPCM audio",
        2 => "MP3 audio",
        3 => "linear PCM (little-endian) audio",
        4 or 5 or 6 => "Nellymoser audio",
        7 => "G.711 A-law audio",
        8 => "G.711 mu-law audio",
        9 => "enhanced RTMP audio",
        10 => "AAC audio",
        11 => "Speex audio",
        13 => "Opus audio (non-standard FLV sound format 13)",
        14 => "MP3 8 kHz audio",
        _ => $"audio format {soundFormat}",
    };
}
