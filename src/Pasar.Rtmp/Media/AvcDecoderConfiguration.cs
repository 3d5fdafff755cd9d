using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;

namespace Pasar.Rtmp;

/// <summary>An H.264 AVCDecoderConfigurationRecord (ISO/IEC 14496-15, 5.2.4.1), the body of an AVC sequence header.</summary>
public sealed class AvcDecoderConfiguration
{
    private AvcDecoderConfiguration()
    {
    }

    /// <summary>AVCProfileIndication (profile_idc of the SPS).</summary>
    public int ProfileIndication { get; private init; }

    /// <summary>profile_compatibility (the SPS constraint flags).</summary>
    public int ProfileCompatibility { get; private init; }

    /// <summary>AVCLevelIndication (level_idc of the SPS).</summary>
    public int LevelIndication { get; private init; }

    /// <summary>Bytes in each NAL unit length prefix of the video messages (1, 2 or 4).</summary>
    public int NalUnitLengthSize { get; private init; }

    /// <summary>The sequence parameter set NAL units.</summary>
    public IReadOnlyList<byte[]> SequenceParameterSets { get; private init; } = [];

    /// <summary>The picture parameter set NAL units.</summary>
    public IReadOnlyList<byte[]> PictureParameterSets { get; private init; } = [];

    /// <summary>The first SPS parsed, or null when it uses syntax this parser does not follow.</summary>
    public H264SequenceParameterSet? Sps { get; private init; }

    /// <summary>The RFC 6381 codecs string, for example <c>avc1.64001F</c> (High profile, level 3.1).</summary>
    public string Codecs => $"avc1.{ProfileIndication:X2}{ProfileCompatibility:X2}{LevelIndication:X2}";

    /// <summary>Display width from the SPS, when known.</summary>
    public int? Width => Sps?.Width;

    /// <summary>Display height from the SPS, when known.</summary>
    public int? Height => Sps?.Height;

    /// <summary>Parses the record. Returns false when it is truncated or not version 1.</summary>
    public static bool TryParse(ReadOnlySpan<byte> record, [NotNullWhen(true)] out AvcDecoderConfiguration? configuration)
    {
        //  aligned(8) class AVCDecoderConfigurationRecord {
        //    unsigned int(8) configurationVersion = 1;
        //    unsigned int(8) AVCProfileIndication;
        //    unsigned int(8) profile_compatibility;
        //    unsigned int(8) AVCLevelIndication;
        //    bit(6) reserved = '111111'b;  unsigned int(2) lengthSizeMinusOne;
        //    bit(3) reserved = '111'b;     unsigned int(5) numOfSequenceParameterSets;
        //    for (i = 0; i < numOfSequenceParameterSets; i++) {
        //      unsigned int(16) sequenceParameterSetLength;  bit(8*sequenceParameterSetLength) sequenceParameterSetNALUnit; }
        //    unsigned int(8) numOfPictureParameterSets;
        //    for (i = 0; i < numOfPictureParameterSets; i++) {
        //      unsigned int(16) pictureParameterSetLength;  bit(8*pictureParameterSetLength) pictureParameterSetNALUnit; }
        //    // High profiles may append chroma format and bit depth fields, which are ignored here.
        //  }
        configuration = null;
        if (record.Length < 7 || record[0] != 1)
        {
            return false;
        }

        var lengthSize = (record[4] & 0x03) + 1;
        if (lengthSize == 3)
        {
            return false;
        }

        var offset = 5;
        if (!TryReadParameterSets(record, ref offset, record[offset++] & 0x1F, out var spsList) ||
            offset >= record.Length ||
            !TryReadParameterSets(record, ref offset, record[offset++], out var ppsList) ||
            spsList.Count == 0)
        {
            return false;
        }

        H264SequenceParameterSet.TryParse(spsList[0], out var sps);
        configuration = new AvcDecoderConfiguration
        {
            ProfileIndication = record[1],
            ProfileCompatibility = record[2],
            LevelIndication = record[3],
            NalUnitLengthSize = lengthSize,
            SequenceParameterSets = spsList,
            PictureParameterSets = ppsList,
            Sps = sps,
        };
        return true;
    }

    private static bool TryReadParameterSets(ReadOnlySpan<byte> record, ref int offset, int count, out List<byte[]> sets)
    {
        sets = new List<byte[]>(count);
        for (var i = 0; i < count; i++)
        {
            if (offset + 2 > record.Length)
            {
                return false;
            }

            var length = BinaryPrimitives.ReadUInt16BigEndian(record[offset..]);
            offset += 2;
            if (length == 0 || offset + length > record.Length)
            {
                return false;
            }

            sets.Add(record.Slice(offset, length).ToArray());
            offset += length;
        }

        return true;
    }
}
