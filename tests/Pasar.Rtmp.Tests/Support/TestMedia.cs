namespace Pasar.Rtmp.Tests.Support;

/// <summary>Hand-built H.264 and AAC payloads, so codec parsing is tested without an encoder.</summary>
internal static class TestMedia
{
    public static readonly byte[] Pps = [0x68, 0xEE, 0x3C, 0x80];

    /// <summary>
    /// A High profile SPS (profile 100, level 3.0) coding <paramref name="width"/>x<paramref name="height"/>
    /// as whole macroblocks plus bottom/right cropping, with VUI timing for <paramref name="fps"/>.
    /// </summary>
    public static byte[] Sps(int width, int height, int fps = 30, int profile = 100, int level = 30, bool vui = true)
    {
        var bits = new BitWriter();
        bits.Bits(profile, 8).Bits(0, 8).Bits(level, 8).Ue(0); // profile, constraints, level, sps id
        if (profile is 100 or 110 or 122 or 244)
        {
            bits.Ue(1).Ue(0).Ue(0).Bit(false).Bit(false); // 4:2:0, 8-bit, no bypass, no scaling matrix
        }

        bits.Ue(0).Ue(0).Ue(2); // log2_max_frame_num-4, poc type 0, log2_max_poc_lsb-4
        bits.Ue(1).Bit(false); // max refs, gaps
        var widthMbs = (width + 15) / 16;
        var heightMbs = (height + 15) / 16;
        bits.Ue(widthMbs - 1).Ue(heightMbs - 1).Bit(true).Bit(true); // frame_mbs_only, direct_8x8
        var cropRight = ((widthMbs * 16) - width) / 2;
        var cropBottom = ((heightMbs * 16) - height) / 2;
        if (cropRight != 0 || cropBottom != 0)
        {
            bits.Bit(true).Ue(0).Ue(cropRight).Ue(0).Ue(cropBottom);
        }
        else
        {
            bits.Bit(false);
        }

        bits.Bit(vui);
        if (vui)
        {
            bits.Bit(true).Bits(1, 8); // aspect ratio 1:1
            bits.Bit(false).Bit(false).Bit(false); // overscan, video signal, chroma loc
            bits.Bit(true).Bits(1, 32).Bits(fps * 2, 32).Bit(true); // timing: 1 tick, 2*fps scale, fixed
            bits.Bit(false).Bit(false).Bit(false).Bit(false); // nal hrd, vcl hrd, pic struct, restriction
        }

        bits.Bit(true); // rbsp_stop_one_bit
        return [0x67, .. BitWriter.AddEmulationPrevention(bits.ToArray())];
    }

    public static byte[] AvcDecoderConfigurationRecord(byte[] sps) =>
        [1, sps[1], sps[2], sps[3], 0xFF, 0xE1, (byte)(sps.Length >> 8), (byte)sps.Length, .. sps, 1, 0, (byte)Pps.Length, .. Pps];

    public static byte[] VideoSequenceHeader(byte[] sps) => [0x17, 0, 0, 0, 0, .. AvcDecoderConfigurationRecord(sps)];

    public static byte[] VideoFrame(bool keyframe, int size, int compositionTime = 0)
    {
        var nal = new byte[size];
        nal[0] = keyframe ? (byte)0x65 : (byte)0x41;
        for (var i = 1; i < size; i++)
        {
            nal[i] = (byte)(i * 7);
        }

        return
        [
            keyframe ? (byte)0x17 : (byte)0x27, 1, (byte)(compositionTime >> 16), (byte)(compositionTime >> 8), (byte)compositionTime,
            (byte)(size >> 24), (byte)(size >> 16), (byte)(size >> 8), (byte)size, .. nal,
        ];
    }

    /// <summary>AAC-LC, 44.1 kHz, stereo: AudioSpecificConfig 0x12 0x10.</summary>
    public static byte[] AudioSequenceHeader() => [0xAF, 0, 0x12, 0x10];

    public static byte[] AudioFrame(int size) => [0xAF, 1, .. Enumerable.Range(0, size).Select(i => (byte)i)];

    private sealed class BitWriter
    {
        private readonly List<bool> _bits = [];

        public BitWriter Bit(bool value)
        {
            _bits.Add(value);
            return this;
        }

        public BitWriter Bits(long value, int count)
        {
            for (var i = count - 1; i >= 0; i--)
            {
                _bits.Add(((value >> i) & 1) != 0);
            }

            return this;
        }

        public BitWriter Ue(int value)
        {
            var v = (long)value + 1;
            var length = 64 - long.LeadingZeroCount(v);
            return Bits(0, (int)length - 1).Bits(v, (int)length);
        }

        public byte[] ToArray()
        {
            while (_bits.Count % 8 != 0)
            {
                _bits.Add(false);
            }

            var bytes = new byte[_bits.Count / 8];
            for (var i = 0; i < _bits.Count; i++)
            {
                if (_bits[i])
                {
                    bytes[i / 8] |= (byte)(0x80 >> (i % 8));
                }
            }

            return bytes;
        }

        public static byte[] AddEmulationPrevention(byte[] rbsp)
        {
            var output = new List<byte>();
            var zeros = 0;
            foreach (var b in rbsp)
            {
                if (zeros >= 2 && b <= 3)
                {
                    output.Add(3);
                    zeros = 0;
                }

                output.Add(b);
                zeros = b == 0 ? zeros + 1 : 0;
            }

            return [.. output];
        }
    }
}
