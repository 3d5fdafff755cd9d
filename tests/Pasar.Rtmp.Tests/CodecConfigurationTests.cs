using System.Buffers;
using Pasar.Rtmp.Tests.Support;

namespace Pasar.Rtmp.Tests;

public sealed class CodecConfigurationTests
{
    [Theory]
    [InlineData(640, 360, 30)]
    [InlineData(1920, 1080, 60)]
    [InlineData(1280, 720, 25)]
    [InlineData(854, 480, 30)]
    [InlineData(720, 1280, 30)] // portrait phone
    public void Sps_yields_the_display_size_after_cropping_and_the_frame_rate(int width, int height, int fps)
    {
        Assert.True(H264SequenceParameterSet.TryParse(TestMedia.Sps(width, height, fps), out var sps));
        Assert.Equal((width, height, (double?)fps), (sps.Width, sps.Height, sps.FrameRate));
        Assert.Equal((100, 30, 1), (sps.ProfileIdc, sps.LevelIdc, sps.ChromaFormatIdc));
    }

    [Fact]
    public void Sps_without_vui_has_no_frame_rate_and_baseline_skips_the_high_profile_fields()
    {
        Assert.True(H264SequenceParameterSet.TryParse(TestMedia.Sps(320, 240, profile: 66, level: 13, vui: false), out var sps));
        Assert.Equal((320, 240), (sps.Width, sps.Height));
        Assert.Null(sps.FrameRate);
        Assert.Equal(66, sps.ProfileIdc);
    }

    [Fact]
    public void Truncated_or_foreign_sps_is_refused()
    {
        var sps = TestMedia.Sps(640, 360);
        for (var length = 0; length < 8; length++)
        {
            Assert.False(H264SequenceParameterSet.TryParse(sps.AsSpan(0, length), out _));
        }

        Assert.False(H264SequenceParameterSet.TryParse(TestMedia.Pps, out _));
    }

    [Fact]
    public void Avc_configuration_record_gives_the_codecs_string_and_size()
    {
        var record = TestMedia.AvcDecoderConfigurationRecord(TestMedia.Sps(1280, 720, 30, profile: 100, level: 31));
        Assert.True(AvcDecoderConfiguration.TryParse(record, out var configuration));
        Assert.Equal("avc1.64001F", configuration.Codecs);
        Assert.Equal((1280, 720), (configuration.Width, configuration.Height));
        Assert.Equal(4, configuration.NalUnitLengthSize);
        Assert.Equal(TestMedia.Pps, Assert.Single(configuration.PictureParameterSets));

        for (var length = 0; length < record.Length - TestMedia.Pps.Length; length++)
        {
            Assert.False(AvcDecoderConfiguration.TryParse(record.AsSpan(0, length), out _), $"prefix of {length} bytes");
        }
    }

    [Theory]
    [InlineData(new byte[] { 0x12, 0x10 }, 2, 44100, 2, "mp4a.40.2")]
    [InlineData(new byte[] { 0x11, 0x90 }, 2, 48000, 2, "mp4a.40.2")]
    [InlineData(new byte[] { 0x13, 0x08 }, 2, 24000, 1, "mp4a.40.2")]
    [InlineData(new byte[] { 0x2B, 0x92, 0x08, 0x00 }, 5, 22050, 2, "mp4a.40.5")]
    [InlineData(new byte[] { 0xF8, 0x1E, 0x01, 0x77, 0x00, 0x40 }, 32, 48000, 2, "mp4a.40.32")] // escaped type and rate
    public void Audio_specific_config_gives_type_rate_and_channels(byte[] config, int type, int rate, int channels, string codecs)
    {
        Assert.True(AacAudioSpecificConfig.TryParse(config, out var aac));
        Assert.Equal((type, rate, channels, codecs), (aac.ObjectType, aac.SampleRate, aac.ChannelConfiguration, aac.Codecs));
    }

    [Theory]
    [InlineData(new byte[0])]
    [InlineData(new byte[] { 0x12 })]
    [InlineData(new byte[] { 0x16, 0x80 })] // sampling index 13 is reserved
    public void Truncated_or_reserved_audio_config_is_refused(byte[] config) =>
        Assert.False(AacAudioSpecificConfig.TryParse(config, out _));

    [Fact]
    public async Task Sequence_headers_from_real_libx264_and_aac_output_parse()
    {
        var ffmpeg = Ffmpeg.RequireTool("ffmpeg");
        var file = Path.Combine(Path.GetTempPath(), $"pasar-rtmp-{Guid.NewGuid():N}.flv");
        try
        {
            var (exitCode, output) = await Ffmpeg.RunAsync(ffmpeg,
                ["-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-f", "lavfi", "-i", "sine",
                 "-t", "1", "-c:v", "libx264", "-c:a", "aac", "-f", "flv", file],
                TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
            Assert.True(exitCode == 0, output);

            var data = await File.ReadAllBytesAsync(file, TestContext.Current.CancellationToken);
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(data));
            Assert.True(FlvReader.TryReadHeader(ref reader, out var hasAudio, out var hasVideo));
            Assert.True(hasAudio && hasVideo);

            AvcDecoderConfiguration? video = null;
            AacAudioSpecificConfig? audio = null;
            var keyframes = 0;
            while (FlvReader.TryReadTag(ref reader, out var tag))
            {
                var body = tag.Data.ToArray();
                if (tag.Type == FlvTagType.Video && body[1] == 0)
                {
                    Assert.True(AvcDecoderConfiguration.TryParse(body.AsSpan(5), out video));
                }
                else if (tag.Type == FlvTagType.Video && body[0] >> 4 == 1)
                {
                    keyframes++;
                }
                else if (tag.Type == FlvTagType.Audio && body[1] == 0)
                {
                    Assert.True(AacAudioSpecificConfig.TryParse(body.AsSpan(2), out audio));
                }
            }

            Assert.True(reader.End);
            Assert.NotNull(video);
            Assert.Equal("avc1.64001F", video.Codecs);
            Assert.Equal((1280, 720, 30d), (video.Width, video.Height, video.Sps!.FrameRate));
            Assert.NotNull(audio);
            Assert.Equal(("mp4a.40.2", 44100, 1), (audio.Codecs, audio.SampleRate, audio.ChannelConfiguration));
            Assert.True(keyframes >= 1);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
