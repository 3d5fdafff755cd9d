using Pasar.Rtmp;

namespace Pasar.Server.Live.Cmaf;

/// <summary>
/// The CMAF header (init segment) of Pasar's passthrough rendition: <c>ftyp</c> + <c>moov</c> with one H.264 track
/// (the publisher's AVCDecoderConfigurationRecord as <c>avcC</c>) and, when the publisher sends AAC, one audio track
/// (its AudioSpecificConfig in <c>esds</c>). Audio and video share the rendition (ADR 0014).
/// </summary>
internal static class CmafInitSegment
{
    public const uint VideoTrackId = 1;
    public const uint AudioTrackId = 2;

    /// <summary>Video timescale: 90 kHz, the usual one, divisible by RTMP's milliseconds.</summary>
    public const int VideoTimescale = 90_000;

    /// <param name="avcRecord">The AVCDecoderConfigurationRecord (the video sequence header's body after its 5-byte FLV header).</param>
    /// <param name="aacConfig">The AudioSpecificConfig (the audio sequence header's body after its 2-byte FLV header), or empty.</param>
    public static byte[] Build(ReadOnlySpan<byte> avcRecord, int width, int height, ReadOnlySpan<byte> aacConfig, AacAudioSpecificConfig? audio)
    {
        var w = new Mp4BoxWriter(1024 + avcRecord.Length + aacConfig.Length);
        var ftyp = w.Begin("ftyp");
        w.FourCc("iso6");
        w.UInt32(0);
        foreach (var brand in new[] { "iso6", "cmfc", "mp41", "iso5" })
        {
            w.FourCc(brand);
        }

        w.End(ftyp);

        var hasAudio = audio is not null && !aacConfig.IsEmpty;
        var moov = w.Begin("moov");
        var mvhd = w.BeginFull("mvhd", 0, 0);
        w.UInt32(0); // creation_time
        w.UInt32(0); // modification_time
        w.UInt32(1000); // timescale
        w.UInt32(0); // duration: unknown, fragmented
        w.UInt32(0x00010000); // rate 1.0
        w.UInt16(0x0100); // volume 1.0
        w.Zeros(10);
        Matrix(w);
        w.Zeros(24); // pre_defined
        w.UInt32(hasAudio ? AudioTrackId + 1 : VideoTrackId + 1); // next_track_ID
        w.End(mvhd);

        Track(w, VideoTrackId, "vide", VideoTimescale, width, height, stsd =>
        {
            var avc1 = w.Begin("avc1");
            w.Zeros(6);
            w.UInt16(1); // data_reference_index
            w.Zeros(16); // pre_defined, reserved
            w.UInt16(width);
            w.UInt16(height);
            w.UInt32(0x00480000); // 72 dpi
            w.UInt32(0x00480000);
            w.UInt32(0);
            w.UInt16(1); // frame_count
            w.Zeros(32); // compressorname
            w.UInt16(0x0018); // depth
            w.UInt16(0xFFFF); // pre_defined = -1
            var avcC = w.Begin("avcC");
            w.Bytes(stsd.Avc);
            w.End(avcC);
            w.End(avc1);
        }, avcRecord, default);

        if (hasAudio)
        {
            Track(w, AudioTrackId, "soun", audio!.SampleRate, 0, 0, stsd =>
            {
                var mp4a = w.Begin("mp4a");
                w.Zeros(6);
                w.UInt16(1);
                w.Zeros(8);
                w.UInt16(audio.ChannelConfiguration is > 0 and <= 2 ? audio.ChannelConfiguration : 2);
                w.UInt16(16); // samplesize
                w.Zeros(4);
                w.UInt32((uint)(audio.SampleRate <= 0xFFFF ? audio.SampleRate << 16 : 0));
                Esds(w, stsd.Aac);
                w.End(mp4a);
            }, default, aacConfig);
        }

        var mvex = w.Begin("mvex");
        Trex(w, VideoTrackId);
        if (hasAudio)
        {
            Trex(w, AudioTrackId);
        }

        w.End(mvex);
        w.End(moov);
        return w.ToArray();
    }

    private ref struct Configs
    {
        public ReadOnlySpan<byte> Avc;
        public ReadOnlySpan<byte> Aac;
    }

    private delegate void SampleEntry(Configs configs);

    private static void Track(Mp4BoxWriter w, uint trackId, string handler, int timescale, int width, int height, SampleEntry entry, ReadOnlySpan<byte> avc, ReadOnlySpan<byte> aac)
    {
        var video = handler == "vide";
        var trak = w.Begin("trak");
        var tkhd = w.BeginFull("tkhd", 0, 0x000003); // enabled, in movie
        w.UInt32(0);
        w.UInt32(0);
        w.UInt32(trackId);
        w.UInt32(0); // reserved
        w.UInt32(0); // duration
        w.Zeros(8);
        w.UInt16(0); // layer
        w.UInt16(video ? 0 : 1); // alternate_group
        w.UInt16(video ? 0 : 0x0100); // volume
        w.UInt16(0);
        Matrix(w);
        w.UInt32((uint)width << 16);
        w.UInt32((uint)height << 16);
        w.End(tkhd);

        var mdia = w.Begin("mdia");
        var mdhd = w.BeginFull("mdhd", 0, 0);
        w.UInt32(0);
        w.UInt32(0);
        w.UInt32((uint)timescale);
        w.UInt32(0);
        w.UInt16(0x55C4); // 'und'
        w.UInt16(0);
        w.End(mdhd);
        var hdlr = w.BeginFull("hdlr", 0, 0);
        w.UInt32(0);
        w.FourCc(handler);
        w.Zeros(12);
        w.Bytes(video ? "Pasar video\0"u8 : "Pasar audio\0"u8);
        w.End(hdlr);

        var minf = w.Begin("minf");
        if (video)
        {
            var vmhd = w.BeginFull("vmhd", 0, 1);
            w.Zeros(8);
            w.End(vmhd);
        }
        else
        {
            var smhd = w.BeginFull("smhd", 0, 0);
            w.Zeros(4);
            w.End(smhd);
        }

        var dinf = w.Begin("dinf");
        var dref = w.BeginFull("dref", 0, 0);
        w.UInt32(1);
        var url = w.BeginFull("url ", 0, 1); // media in the same file
        w.End(url);
        w.End(dref);
        w.End(dinf);

        var stbl = w.Begin("stbl");
        var stsd = w.BeginFull("stsd", 0, 0);
        w.UInt32(1);
        entry(new Configs { Avc = avc, Aac = aac });
        w.End(stsd);
        foreach (var empty in new[] { "stts", "stsc", "stco" })
        {
            var box = w.BeginFull(empty, 0, 0);
            w.UInt32(0);
            w.End(box);
        }

        var stsz = w.BeginFull("stsz", 0, 0);
        w.UInt32(0);
        w.UInt32(0);
        w.End(stsz);
        w.End(stbl);
        w.End(minf);
        w.End(mdia);
        w.End(trak);
    }

    private static void Esds(Mp4BoxWriter w, ReadOnlySpan<byte> config)
    {
        // ES_Descriptor (tag 3) > DecoderConfigDescriptor (tag 4, MPEG-4 audio 0x40) > DecoderSpecificInfo (tag 5,
        // the AudioSpecificConfig), then SLConfigDescriptor (tag 6, predefined 2). Sizes fit in one byte.
        var esds = w.BeginFull("esds", 0, 0);
        w.UInt8(0x03);
        w.UInt8(3 + 2 + 13 + 2 + config.Length + 3);
        w.UInt16((int)AudioTrackId);
        w.UInt8(0);
        w.UInt8(0x04);
        w.UInt8(13 + 2 + config.Length);
        w.UInt8(0x40);
        w.UInt8(0x15); // audio stream
        w.UInt24(0); // bufferSizeDB
        w.UInt32(0); // maxBitrate
        w.UInt32(0); // avgBitrate
        w.UInt8(0x05);
        w.UInt8(config.Length);
        w.Bytes(config);
        w.UInt8(0x06);
        w.UInt8(1);
        w.UInt8(0x02);
        w.End(esds);
    }

    private static void Trex(Mp4BoxWriter w, uint trackId)
    {
        var trex = w.BeginFull("trex", 0, 0);
        w.UInt32(trackId);
        w.UInt32(1); // default_sample_description_index
        w.UInt32(0);
        w.UInt32(0);
        w.UInt32(0);
        w.End(trex);
    }

    private static void Matrix(Mp4BoxWriter w)
    {
        foreach (var value in new uint[] { 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000 })
        {
            w.UInt32(value);
        }
    }
}
