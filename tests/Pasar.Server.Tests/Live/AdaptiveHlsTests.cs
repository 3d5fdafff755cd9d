using System.Globalization;
using System.Net;
using System.Text.RegularExpressions;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.Live;

/// <summary>
/// One real ffmpeg publish of 720p30 into Pasar for 14 s with the default ladder (480p30 + 360p30 below the
/// source), shared by the tests of this class: the adaptive HLS it produces, then the replay once it ends.
/// </summary>
public sealed class PublishedSession : IAsyncLifetime
{
    public PasarApp App { get; private set; } = null!;
    public string Id { get; private set; } = "";
    public string StatusWhilePublishing { get; private set; } = "";
    public string MasterWhilePublishing { get; private set; } = "";
    public string StatusAfterEnd { get; private set; } = "";
    public int PublisherExitCode { get; private set; }
    public string PublisherOutput { get; private set; } = "";
    public string? Skipped { get; private set; }

    public async ValueTask InitializeAsync()
    {
        if (Pasar.Testing.LocalServers.Which("ffmpeg") is null || Pasar.Testing.LocalServers.Which("ffprobe") is null)
        {
            Skipped = "ffmpeg or ffprobe is not installed.";
            return;
        }

        App = await LiveApp.StartAsync(Backend.Embedded);
        using var seller = await App.ClientAsAsync("seller-hls", "seller");
        var (id, key) = await seller.CreateSessionAsync("Adaptive HLS");
        Id = id;
        await using var publisher = Ffmpeg.Publish(App.RtmpPort(), key, seconds: 14, size: "1280x720", rate: 30);
        await PasarApp.EventuallyAsync(async () => (await App.Client.GetAsync($"/hls/{id}/master.m3u8")).StatusCode == HttpStatusCode.OK,
            TimeSpan.FromSeconds(20), "a master playlist while publishing");
        StatusWhilePublishing = await App.Client.StatusAsync(id);
        MasterWhilePublishing = await App.Client.GetStringAsync($"/hls/{id}/master.m3u8", TestContext.Current.CancellationToken);
        (PublisherExitCode, PublisherOutput) = await publisher.WaitAsync(TimeSpan.FromSeconds(60));

        var end = await seller.PostAsync($"/api/live/sessions/{id}/end", null);
        Assert.Equal(HttpStatusCode.OK, end.StatusCode);
        StatusAfterEnd = await App.Client.StatusAsync(id);
    }

    public async ValueTask DisposeAsync()
    {
        if (App is not null)
        {
            await App.DisposeAsync();
        }
    }
}

[Collection(FfmpegCollection.Name)]
public sealed class AdaptiveHlsTests(PublishedSession session) : IClassFixture<PublishedSession>
{
    private static readonly Regex StreamInf = new(@"^#EXT-X-STREAM-INF:(?<attributes>.*)\n(?<uri>[^\n#]+)$", RegexOptions.Multiline);

    private void SkipWithoutFfmpeg()
    {
        if (session.Skipped is { } reason)
        {
            Ffmpeg.Require("ffmpeg");
            Ffmpeg.Require("ffprobe");
            Assert.Skip(reason);
        }
    }

    private static Dictionary<string, string> Attributes(string list) =>
        Regex.Matches(list, "([A-Z-]+)=(\"[^\"]*\"|[^,]*)").ToDictionary(m => m.Groups[1].Value, m => m.Groups[2].Value.Trim('"'));

    [Fact]
    public async Task Ffmpeg_publish_gives_passthrough_and_transcoded_renditions_that_decode_then_a_replay()
    {
        SkipWithoutFfmpeg();
        Assert.True(session.PublisherExitCode == 0, session.PublisherOutput);
        Assert.Equal("live", session.StatusWhilePublishing);
        Assert.Equal("ended", session.StatusAfterEnd);

        var variants = StreamInf.Matches(session.MasterWhilePublishing).Select(m => m.Groups["uri"].Value.Trim()).ToList();
        Assert.Equal(["source/index.m3u8", "480p30/index.m3u8", "360p30/index.m3u8"], variants);

        // ffprobe decodes a segment of every rendition, straight from the server over HTTP.
        foreach (var variant in variants)
        {
            var segments = await session.App.Client.SegmentsAsync($"/hls/{session.Id}/{variant}");
            Assert.NotEmpty(segments);
            var url = new Uri(session.App.BaseAddress, $"/hls/{session.Id}/{variant[..variant.IndexOf('/')]}/{segments[0]}").ToString();
            if (segments[0].EndsWith(".m4s", StringComparison.Ordinal))
            {
                url = new Uri(session.App.BaseAddress, $"/hls/{session.Id}/{variant}").ToString(); // a CMAF segment decodes after its init segment
            }

            var (exit, output) = await Ffmpeg.RunAsync("ffmpeg", ["-v", "error", "-i", url, "-f", "null", "-"], TimeSpan.FromSeconds(30));
            Assert.True(exit == 0 && string.IsNullOrWhiteSpace(output), $"{url}: {output}");
        }

        var body = await session.App.Client.SessionAsync(session.Id);
        var replayUrl = body.GetProperty("replayUrl").GetString();
        Assert.Equal($"/hls/{session.Id}/replay.m3u8", replayUrl);
        var replay = await session.App.Client.GetStringAsync(replayUrl, TestContext.Current.CancellationToken);
        foreach (var match in StreamInf.Matches(replay).Cast<Match>())
        {
            var list = await session.App.Client.GetStringAsync($"/hls/{session.Id}/{match.Groups["uri"].Value.Trim()}", TestContext.Current.CancellationToken);
            Assert.Contains("#EXT-X-PLAYLIST-TYPE:VOD", list, StringComparison.Ordinal);
            Assert.EndsWith("#EXT-X-ENDLIST\n", list, StringComparison.Ordinal);
            var seconds = Regex.Matches(list, @"#EXTINF:([0-9.]+)").Sum(m => double.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture));
            Assert.InRange(seconds, 10, 16); // 14 s published, all of it kept
        }
    }

    [Fact]
    public async Task Every_rendition_advertises_the_codecs_resolution_and_bandwidth_its_segments_have()
    {
        SkipWithoutFfmpeg();
        var master = await session.App.Client.GetStringAsync($"/hls/{session.Id}/master.m3u8", TestContext.Current.CancellationToken);
        var matches = StreamInf.Matches(master);
        Assert.Equal(3, matches.Count);
        foreach (Match match in matches)
        {
            var attributes = Attributes(match.Groups["attributes"].Value);
            var rendition = match.Groups["uri"].Value.Trim().Split('/')[0];
            var directory = Path.Combine(session.App.SessionDirectory(session.Id), rendition);
            var segments = await session.App.Client.SegmentsAsync($"/hls/{session.Id}/{rendition}/replay.m3u8");
            var playlist = await session.App.Client.GetStringAsync($"/hls/{session.Id}/{rendition}/replay.m3u8", TestContext.Current.CancellationToken);
            var peak = 0.0;
            foreach (var segment in segments)
            {
                var file = Ffmpeg.StandaloneSegment(directory, playlist, segment);
                var probe = await Ffmpeg.ProbeAsync(file);
                if (file != Path.Combine(directory, segment))
                {
                    File.Delete(file);
                }

                var streams = probe.GetProperty("streams").EnumerateArray().ToList();
                var video = streams.Single(s => s.GetProperty("codec_type").GetString() == "video");
                var audio = streams.Single(s => s.GetProperty("codec_type").GetString() == "audio");

                // CODECS="avc1.PPCCLL,mp4a.40.N": profile and level as ffprobe reads them from the stream.
                var codecs = attributes["CODECS"].Split(',');
                var avc = Convert.FromHexString(codecs[0]["avc1.".Length..]);
                var profile = video.GetProperty("profile").GetString();
                Assert.Equal(profile switch { "Constrained Baseline" or "Baseline" => 66, "Main" => 77, "High" => 100, _ => -1 }, avc[0]);
                if (profile == "Constrained Baseline")
                {
                    Assert.True((avc[1] & 0x40) != 0, $"{codecs[0]}: Constrained Baseline sets constraint_set1");
                }

                Assert.Equal(video.GetProperty("level").GetInt32(), avc[2]);
                Assert.Equal("aac", audio.GetProperty("codec_name").GetString());
                Assert.Equal(audio.GetProperty("profile").GetString() == "LC" ? "mp4a.40.2" : "?", codecs[1]);
                Assert.Equal($"{video.GetProperty("width").GetInt32()}x{video.GetProperty("height").GetInt32()}", attributes["RESOLUTION"]);
                var rate = video.GetProperty("r_frame_rate").GetString()!.Split('/');
                Assert.Equal(double.Parse(rate[0], CultureInfo.InvariantCulture) / double.Parse(rate[1], CultureInfo.InvariantCulture),
                    double.Parse(attributes["FRAME-RATE"], CultureInfo.InvariantCulture), 2);

                var format = probe.GetProperty("format");
                var duration = double.Parse(format.GetProperty("duration").GetString()!, CultureInfo.InvariantCulture);
                var bytes = double.Parse(format.GetProperty("size").GetString()!, CultureInfo.InvariantCulture);
                if (duration >= 1)
                {
                    peak = Math.Max(peak, bytes * 8 / duration);
                }
            }

            // BANDWIDTH is the peak segment bit rate; ffprobe's durations differ from EXTINF by a frame or so.
            var bandwidth = double.Parse(attributes["BANDWIDTH"], CultureInfo.InvariantCulture);
            Assert.True(peak > 0, $"{rendition}: no full-length segment to measure");
            Assert.InRange(bandwidth / peak, 0.8, 1.25);
            var average = double.Parse(attributes["AVERAGE-BANDWIDTH"], CultureInfo.InvariantCulture);
            Assert.True(average <= bandwidth, $"{rendition}: AVERAGE-BANDWIDTH {average} above BANDWIDTH {bandwidth}");
        }
    }
}
