using System.Text.Json;
using Pasar.Rtmp.Tests.Support;

namespace Pasar.Rtmp.Tests;

/// <summary>Real ffmpeg publishing to the connection driver over loopback TCP.</summary>
public sealed class FfmpegEndToEndTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string[] PublishArguments(int port, string key) =>
    [
        "-hide_banner", "-loglevel", "error", "-re",
        "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
        "-f", "lavfi", "-i", "sine",
        "-t", "3", "-c:v", "libx264", "-preset", "ultrafast", "-g", "60", "-c:a", "aac",
        "-f", "flv", $"rtmp://127.0.0.1:{port}/live/{key}",
    ];

    [Fact]
    public async Task Ffmpeg_publishes_h264_and_aac_and_the_remuxed_flv_is_readable()
    {
        var ffmpeg = Ffmpeg.RequireTool("ffmpeg");
        var ffprobe = Ffmpeg.RequireTool("ffprobe");
        var file = Path.Combine(Path.GetTempPath(), $"pasar-rtmp-e2e-{Guid.NewGuid():N}.flv");
        try
        {
            await using (var flvFile = File.Create(file))
            {
                var host = new RecordingHost(acceptedKey: "KEY") { Flv = new FlvWriter(flvFile) };
                await using (var server = new LoopbackRtmpServer(host))
                {
                    var (exitCode, output) = await Ffmpeg.RunAsync(ffmpeg, PublishArguments(server.Port, "KEY"), TimeSpan.FromSeconds(60), Ct);
                    Assert.True(exitCode == 0, output);
                    Assert.NotEqual(RtmpEndReason.ProtocolError, (await server.FirstConnection.WaitAsync(TimeSpan.FromSeconds(10), Ct)).Reason);
                    await host.Ended.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);
                }

                Assert.Equal("KEY", Assert.Single(host.Requests).StreamKey);
                var metadata = Assert.Single(host.Metadata);
                Assert.Equal((640, 360, 30d), (metadata.Width, metadata.Height, metadata.FrameRate));

                var context = host.Context!;
                Assert.StartsWith("avc1.", context.Video!.Codecs, StringComparison.Ordinal);
                Assert.Equal(11, context.Video.Codecs.Length);
                Assert.Equal((640, 360), (context.Video.Width, context.Video.Height));
                Assert.Equal("mp4a.40.2", context.Audio!.Codecs);
                Assert.Equal(44100, context.Audio.SampleRate);

                var media = host.Media;
                Assert.Contains(media, m => m.Type == RtmpMediaType.Video && m.IsSequenceHeader);
                Assert.Contains(media, m => m.Type == RtmpMediaType.Audio && m.IsSequenceHeader);
                Assert.True(media.Count(m => m.IsKeyframe) >= 2, "a 3 s stream with -g 60 at 30 fps has two key frames");
                Assert.True(media.Count(m => m.Type == RtmpMediaType.Video) >= 80);
                Assert.True(media.Count(m => m.Type == RtmpMediaType.Audio) >= 100);
                Assert.True(media.First(m => m.Type == RtmpMediaType.Video && !m.IsSequenceHeader).IsKeyframe);
            }

            var (probeExit, json) = await Ffmpeg.RunAsync(ffprobe,
                ["-v", "error", "-show_entries", "stream=codec_type,codec_name,width,height:format=duration", "-of", "json", file],
                TimeSpan.FromSeconds(30), Ct);
            Assert.True(probeExit == 0, json);
            using var probe = JsonDocument.Parse(json);
            var streams = probe.RootElement.GetProperty("streams").EnumerateArray().ToList();
            var video = streams.Single(s => s.GetProperty("codec_type").GetString() == "video");
            Assert.Equal("h264", video.GetProperty("codec_name").GetString());
            Assert.Equal(640, video.GetProperty("width").GetInt32());
            Assert.Equal(360, video.GetProperty("height").GetInt32());
            Assert.Equal("aac", streams.Single(s => s.GetProperty("codec_type").GetString() == "audio").GetProperty("codec_name").GetString());
            var duration = double.Parse(probe.RootElement.GetProperty("format").GetProperty("duration").GetString()!, System.Globalization.CultureInfo.InvariantCulture);
            Assert.InRange(duration, 2.5, 3.5);

            // ffmpeg decodes every frame of the re-muxed file without complaint.
            var ffmpegPath = Ffmpeg.RequireTool("ffmpeg");
            var (decodeExit, decodeOutput) = await Ffmpeg.RunAsync(ffmpegPath, ["-v", "error", "-i", file, "-f", "null", "-"], TimeSpan.FromSeconds(60), Ct);
            Assert.True(decodeExit == 0 && string.IsNullOrWhiteSpace(decodeOutput), decodeOutput);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public async Task Ffmpeg_with_a_wrong_key_fails_and_no_media_reaches_the_handler()
    {
        var ffmpeg = Ffmpeg.RequireTool("ffmpeg");
        var host = new RecordingHost(acceptedKey: "KEY");
        await using var server = new LoopbackRtmpServer(host);

        var (exitCode, output) = await Ffmpeg.RunAsync(ffmpeg, PublishArguments(server.Port, "WRONG"), TimeSpan.FromSeconds(60), Ct);

        Assert.NotEqual(0, exitCode);
        Assert.Contains("Unknown stream key", output, StringComparison.Ordinal);
        Assert.Equal(RtmpEndReason.PublishRejected, (await server.FirstConnection.WaitAsync(TimeSpan.FromSeconds(10), Ct)).Reason);
        Assert.Equal("WRONG", Assert.Single(host.Requests).StreamKey);
        Assert.Empty(host.Media);
        Assert.Empty(host.Metadata);
        Assert.Null(host.Context);
    }
}
