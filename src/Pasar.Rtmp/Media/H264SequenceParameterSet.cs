using System.Diagnostics.CodeAnalysis;

namespace Pasar.Rtmp;

/// <summary>The fields of an H.264 sequence parameter set (ITU-T H.264, 7.3.2.1.1) that a packager needs.</summary>
public sealed class H264SequenceParameterSet
{
    // Larger than any level allows (8192x4320 at level 6.2 is 512 macroblocks wide); keeps arithmetic small.
    private const uint MaxMacroblocks = 1024;

    private H264SequenceParameterSet()
    {
    }

    /// <summary>profile_idc (66 baseline, 77 main, 100 high, ...).</summary>
    public int ProfileIdc { get; private init; }

    /// <summary>The constraint_set0..5 flags byte.</summary>
    public int ConstraintFlags { get; private init; }

    /// <summary>level_idc (31 means level 3.1).</summary>
    public int LevelIdc { get; private init; }

    /// <summary>chroma_format_idc (1 is 4:2:0).</summary>
    public int ChromaFormatIdc { get; private init; }

    /// <summary>Luma bit depth (8 for nearly everything).</summary>
    public int BitDepthLuma { get; private init; }

    /// <summary>Display width in pixels, after cropping.</summary>
    public int Width { get; private init; }

    /// <summary>Display height in pixels, after cropping.</summary>
    public int Height { get; private init; }

    /// <summary>Frame rate from the VUI timing information, when the encoder wrote it.</summary>
    public double? FrameRate { get; private init; }

    /// <summary>
    /// Parses an SPS NAL unit, header byte included. Returns false when it is truncated, is not an SPS, or uses
    /// values outside what H.264 allows.
    /// </summary>
    public static bool TryParse(ReadOnlySpan<byte> nalUnit, [NotNullWhen(true)] out H264SequenceParameterSet? sps)
    {
        sps = null;
        if (nalUnit.Length < 4 || (nalUnit[0] & 0x1F) != 7)
        {
            return false;
        }

        // Strip emulation-prevention bytes (00 00 03 -> 00 00) to get the RBSP the syntax is defined on.
        Span<byte> rbsp = nalUnit.Length <= 512 ? stackalloc byte[nalUnit.Length] : new byte[nalUnit.Length];
        var rbspLength = 0;
        var zeros = 0;
        for (var i = 1; i < nalUnit.Length; i++)
        {
            var b = nalUnit[i];
            if (zeros >= 2 && b == 3)
            {
                zeros = 0;
                continue;
            }

            zeros = b == 0 ? zeros + 1 : 0;
            rbsp[rbspLength++] = b;
        }

        var bits = new BitReader(rbsp[..rbspLength]);
        var profileIdc = (int)bits.ReadBits(8);
        var constraints = (int)bits.ReadBits(8);
        var levelIdc = (int)bits.ReadBits(8);
        bits.ReadUe(); // seq_parameter_set_id

        var chromaFormatIdc = 1;
        var separateColourPlane = false;
        var bitDepthLuma = 8;
        if (profileIdc is 100 or 110 or 122 or 244 or 44 or 83 or 86 or 118 or 128 or 138 or 139 or 134 or 135)
        {
            chromaFormatIdc = (int)bits.ReadUe();
            if (chromaFormatIdc > 3)
            {
                return false;
            }

            if (chromaFormatIdc == 3)
            {
                separateColourPlane = bits.ReadBit();
            }

            bitDepthLuma = 8 + (int)Math.Min(bits.ReadUe(), 8);
            bits.ReadUe(); // bit_depth_chroma_minus8
            bits.ReadBit(); // qpprime_y_zero_transform_bypass_flag
            if (bits.ReadBit()) // seq_scaling_matrix_present_flag
            {
                var lists = chromaFormatIdc != 3 ? 8 : 12;
                for (var i = 0; i < lists && !bits.Overrun; i++)
                {
                    if (bits.ReadBit())
                    {
                        SkipScalingList(ref bits, i < 6 ? 16 : 64);
                    }
                }
            }
        }

        bits.ReadUe(); // log2_max_frame_num_minus4
        var picOrderCntType = bits.ReadUe();
        if (picOrderCntType == 0)
        {
            bits.ReadUe(); // log2_max_pic_order_cnt_lsb_minus4
        }
        else if (picOrderCntType == 1)
        {
            bits.ReadBit(); // delta_pic_order_always_zero_flag
            bits.ReadSe(); // offset_for_non_ref_pic
            bits.ReadSe(); // offset_for_top_to_bottom_field
            var cycle = bits.ReadUe();
            if (cycle > 255)
            {
                return false;
            }

            for (var i = 0u; i < cycle && !bits.Overrun; i++)
            {
                bits.ReadSe(); // offset_for_ref_frame[i]
            }
        }
        else if (picOrderCntType > 2)
        {
            return false;
        }

        bits.ReadUe(); // max_num_ref_frames
        bits.ReadBit(); // gaps_in_frame_num_value_allowed_flag
        var widthInMbs = bits.ReadUe() + 1;
        var heightInMapUnits = bits.ReadUe() + 1;
        var frameMbsOnly = bits.ReadBit();
        if (!frameMbsOnly)
        {
            bits.ReadBit(); // mb_adaptive_frame_field_flag
        }

        bits.ReadBit(); // direct_8x8_inference_flag
        uint cropLeft = 0, cropRight = 0, cropTop = 0, cropBottom = 0;
        if (bits.ReadBit()) // frame_cropping_flag
        {
            cropLeft = bits.ReadUe();
            cropRight = bits.ReadUe();
            cropTop = bits.ReadUe();
            cropBottom = bits.ReadUe();
        }

        double? frameRate = null;
        if (bits.ReadBit()) // vui_parameters_present_flag
        {
            frameRate = ReadVuiFrameRate(ref bits);
        }

        if (bits.Overrun || widthInMbs > MaxMacroblocks || heightInMapUnits > MaxMacroblocks)
        {
            return false;
        }

        // Cropping is in chroma sample units (7.4.2.1.1, Table 6-1): ChromaArrayType 0 uses 1x1, 4:2:0 2x2,
        // 4:2:2 2x1, 4:4:4 1x1; field coding doubles the vertical unit.
        var chromaArrayType = separateColourPlane ? 0 : chromaFormatIdc;
        var cropUnitX = chromaArrayType is 1 or 2 ? 2u : 1u;
        var cropUnitY = (chromaArrayType == 1 ? 2u : 1u) * (frameMbsOnly ? 1u : 2u);
        var width = (long)widthInMbs * 16 - ((long)cropLeft + cropRight) * cropUnitX;
        var height = (frameMbsOnly ? 1L : 2L) * heightInMapUnits * 16 - ((long)cropTop + cropBottom) * cropUnitY;
        if (width <= 0 || height <= 0)
        {
            return false;
        }

        sps = new H264SequenceParameterSet
        {
            ProfileIdc = profileIdc,
            ConstraintFlags = constraints,
            LevelIdc = levelIdc,
            ChromaFormatIdc = chromaFormatIdc,
            BitDepthLuma = bitDepthLuma,
            Width = (int)width,
            Height = (int)height,
            FrameRate = frameRate,
        };
        return true;
    }

    private static void SkipScalingList(ref BitReader bits, int size)
    {
        int lastScale = 8, nextScale = 8;
        for (var j = 0; j < size && !bits.Overrun; j++)
        {
            if (nextScale != 0)
            {
                var delta = bits.ReadSe();
                nextScale = (int)((lastScale + delta + 256) % 256);
            }

            lastScale = nextScale == 0 ? lastScale : nextScale;
        }
    }

    private static double? ReadVuiFrameRate(ref BitReader bits)
    {
        //  vui_parameters() (E.1.1), up to the timing information.
        if (bits.ReadBit()) // aspect_ratio_info_present_flag
        {
            if (bits.ReadBits(8) == 255) // aspect_ratio_idc == Extended_SAR
            {
                bits.ReadBits(16); // sar_width
                bits.ReadBits(16); // sar_height
            }
        }

        if (bits.ReadBit()) // overscan_info_present_flag
        {
            bits.ReadBit(); // overscan_appropriate_flag
        }

        if (bits.ReadBit()) // video_signal_type_present_flag
        {
            bits.ReadBits(3); // video_format
            bits.ReadBit(); // video_full_range_flag
            if (bits.ReadBit()) // colour_description_present_flag
            {
                bits.ReadBits(24); // colour_primaries, transfer_characteristics, matrix_coefficients
            }
        }

        if (bits.ReadBit()) // chroma_loc_info_present_flag
        {
            bits.ReadUe();
            bits.ReadUe();
        }

        if (!bits.ReadBit()) // timing_info_present_flag
        {
            return null;
        }

        var numUnitsInTick = bits.ReadBits(32);
        var timeScale = bits.ReadBits(32);
        if (bits.Overrun || numUnitsInTick == 0 || timeScale == 0)
        {
            return null;
        }

        // Two ticks per frame: H.264 counts fields.
        return Math.Round(timeScale / (2.0 * numUnitsInTick), 3);
    }

    /// <summary>MSB-first bit reader over an RBSP; reading past the end yields zeros and sets <see cref="Overrun"/>.</summary>
    private ref struct BitReader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private long _position;

        public bool Overrun { get; private set; }

        public bool ReadBit() => ReadBits(1) != 0;

        public uint ReadBits(int count)
        {
            uint value = 0;
            for (var i = 0; i < count; i++)
            {
                var byteIndex = _position >> 3;
                if (byteIndex >= _data.Length)
                {
                    Overrun = true;
                    return 0;
                }

                value = (value << 1) | (uint)((_data[(int)byteIndex] >> (7 - (int)(_position & 7))) & 1);
                _position++;
            }

            return value;
        }

        public uint ReadUe()
        {
            //  ue(v) (9.1): leadingZeroBits zeros, a one, then leadingZeroBits bits; value = 2^n - 1 + bits.
            var leadingZeros = 0;
            while (!ReadBit())
            {
                if (Overrun || ++leadingZeros > 31)
                {
                    Overrun = true;
                    return 0;
                }
            }

            return leadingZeros == 0 ? 0 : (uint)((1UL << leadingZeros) - 1 + ReadBits(leadingZeros));
        }

        public long ReadSe()
        {
            //  se(v) (9.1.1): 1 -> 1, 2 -> -1, 3 -> 2, 4 -> -2 ...
            var k = ReadUe();
            return (k & 1) != 0 ? (k + 1L) / 2 : -(k / 2L);
        }
    }
}
