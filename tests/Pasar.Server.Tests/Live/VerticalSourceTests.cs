using System.Net;
using System.Text.RegularExpressions;
using Pasar.Server.Live;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.Live;

/// <summary>
/// A phone's vertical 720x1280 stream, published with real ffmpeg: the ladder scales by the short side ("480p" of a
/// vertical source is 480 wide), and the master playlist advertises the sizes its segments really have.
/// </summary>
[Collection(FfmpegCollection.Name)]
public sealed class VerticalSourceTests
{
    private static readonly Regex StreamInf = new(@"^#EXT-X-STREAM-INF:(?<attributes>.*)\n(?<uri>[^\n#]+)$", RegexOptions.Multiline);

    [Theory]
    [InlineData(720, 1280, "480p30", 480, 854)]
    [InlineData(720, 1280, "360p30", 360, 640)]
    [InlineData(1280, 720, "480p30", 854, 480)]
    [InlineData(1080, 1920, "720p30", 720, 1280)]
    [InlineData(1080, 1080, "480p30", 480, 480)]
    [InlineData(0, 720, "480p30", 0, 480)]
    public void A_rung_is_the_short_side_and_keeps_the_aspect(int width, int height, string rung, int expectedWidth, int expectedHeight)
    {
        Assert.True(LadderRung.TryParse(rung, out var parsed));
        Assert.Equal((expectedWidth, expectedHeight), parsed.SizeFor(width, height));
    }

    [Fact]
    public void A_vertical_720p_source_gets_the_rungs_below_its_width()
    {
        var ladder = LadderRung.ParseList("1080p60,720p30,480p30,360p30");
        Assert.Equal(["480p30", "360p30"], LadderRung.Below(ladder, 720, 1280).Select(r => r.Name));
        Assert.Equal(["480p30", "360p30"], LadderRung.Below(ladder, 1280, 720).Select(r => r.Name));
        Assert.Equal(["720p30", "480p30", "360p30"], LadderRung.Below(ladder, 1080, 1920).Select(r => r.Name));
    }

    [Fact]
    public async Task A_720x1280_publish_gives_vertical_renditions_whose_segments_match_the_master_playlist()
    {
        Ffmpeg.Require("ffmpeg");
        Ffmpeg.Require("ffprobe");
        await using var app = await LiveApp.StartAsync(Backend.Embedded);
        using var seller = await app.ClientAsAsync("seller-vertical", "seller");
        var (id, key) = await seller.CreateSessionAsync("Vertical from a phone");
        await using var publisher = Ffmpeg.Publish(app.RtmpPort(), key, seconds: 10, size: "720x1280", rate: 30);

        var expected = new Dictionary<string, string> { ["source"] = "720x1280", ["480p30"] = "480x854", ["360p30"] = "360x640" };
        var master = "";
        await PasarApp.EventuallyAsync(async () =>
        {
            var response = await app.Client.GetAsync($"/hls/{id}/master.m3u8");
            master = response.StatusCode == HttpStatusCode.OK ? await response.Content.ReadAsStringAsync() : "";
            return StreamInf.Matches(master).Count == expected.Count;
        }, TimeSpan.FromSeconds(30), "a master playlist with the source and both rungs");

        var advertised = StreamInf.Matches(master).ToDictionary(
            m => m.Groups["uri"].Value.Trim().Split('/')[0],
            m => Regex.Match(m.Groups["attributes"].Value, "RESOLUTION=([0-9]+x[0-9]+)").Groups[1].Value);
        Assert.Equal(expected.OrderBy(e => e.Key), advertised.OrderBy(e => e.Key));

        // ffprobe reads each rendition, over HTTP from the server, at the advertised size.
        foreach (var (rendition, size) in expected)
        {
            var segments = await app.Client.SegmentsAsync($"/hls/{id}/{rendition}/index.m3u8");
            Assert.NotEmpty(segments);
            var url = new Uri(app.BaseAddress, $"/hls/{id}/{rendition}/index.m3u8").ToString();
            var probe = await Ffmpeg.ProbeAsync(url);
            var video = probe.GetProperty("streams").EnumerateArray().Single(s => s.GetProperty("codec_type").GetString() == "video");
            Assert.Equal(size, $"{video.GetProperty("width").GetInt32()}x{video.GetProperty("height").GetInt32()}");
        }

        var (exit, output) = await publisher.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(exit == 0, output);
    }
}
