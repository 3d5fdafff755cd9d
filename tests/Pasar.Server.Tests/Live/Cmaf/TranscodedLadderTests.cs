using System.Globalization;
using System.Net;
using System.Text.Json;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.Live.Cmaf;

/// <summary>
/// A session with a ladder: the passthrough rendition packaged from the publisher's frames, the transcoded rung from
/// ffmpeg's output, both through the same CMAF packager. Checked: the master over both, LL-HLS playlists with rendition
/// reports (independent parser), segments lined up across renditions on the same key frames, blocking reload on the
/// rung, ffmpeg decoding the master, ffmpeg's supervision, and a replay of every rendition.
/// </summary>
[Collection(FfmpegCollection.Name)]
public sealed class TranscodedLadderTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_transcoded_rung_is_packaged_like_the_passthrough_rendition_with_aligned_segments()
    {
        Ffmpeg.Require("ffmpeg");
        await using var app = await LiveApp.StartAsync(Backend.Embedded, s =>
        {
            s["Pasar:Live:Ladder"] = "360p30";
            s["Pasar:Live:LowLatencyPassthrough"] = "true";
        });
        using var seller = await app.ClientAsAsync("seller-ladder", "seller");
        var (id, key) = await seller.CreateSessionAsync();
        var client = app.Client;
        // Key frames every second, segments of about 2 s: the rung must cut where the source cut, not at every key frame.
        await using var publisher = Ffmpeg.Publish(app.RtmpPort(), key, seconds: 60, size: "640x480", gop: 30);
        await PasarApp.EventuallyAsync(async () => (await client.GetAsync($"/hls/{id}/master.m3u8", Ct)).StatusCode == HttpStatusCode.OK,
            TimeSpan.FromSeconds(30), "the master playlist");

        var master = await LowLatencyHlsTests.CheckAsync(await client.GetStringAsync($"/hls/{id}/master.m3u8", Ct));
        var variants = master.GetProperty("variants").EnumerateArray().ToList();
        Assert.Equal(["source/index.m3u8", "360p30/index.m3u8"], variants.Select(v => v.GetProperty("uri").GetString()));
        Assert.Equal(480, variants[1].GetProperty("resolution").GetProperty("width").GetInt32());
        Assert.Equal(360, variants[1].GetProperty("resolution").GetProperty("height").GetInt32());
        Assert.StartsWith("avc1.", variants[1].GetProperty("codecs").GetString(), StringComparison.Ordinal);
        Assert.Contains("mp4a.40.2", variants[1].GetProperty("codecs").GetString(), StringComparison.Ordinal);
        Assert.NotNull(app.Ingest().TranscoderProcessId(id));

        // Let a few segments build up in both, then compare: same media sequence numbers, same durations (the same
        // pictures), each rung segment opening with an independent part, and each playlist reporting the other.
        await PasarApp.EventuallyAsync(() => Task.FromResult(app.Recorded(id, "360p30").Count >= 4), TimeSpan.FromSeconds(40), "four rung segments");
        var sourceText = await client.GetStringAsync($"/hls/{id}/source/index.m3u8", Ct);
        var rungText = await client.GetStringAsync($"/hls/{id}/360p30/index.m3u8", Ct);
        var source = await LowLatencyHlsTests.CheckAsync(sourceText);
        var rung = await LowLatencyHlsTests.CheckAsync(rungText);
        Assert.Contains(source.GetProperty("reports").EnumerateArray(), r => r.GetProperty("uri").GetString() == "../360p30/index.m3u8");
        Assert.Contains(rung.GetProperty("reports").EnumerateArray(), r => r.GetProperty("uri").GetString() == "../source/index.m3u8");

        var sourceSegments = Segments(source);
        var rungSegments = Segments(rung);
        var common = rungSegments.Keys.Intersect(sourceSegments.Keys).ToList();
        Assert.True(common.Count >= 3, $"segments in both: {string.Join(",", common)}\n{sourceText}\n{rungText}");
        Assert.All(common, msn => Assert.InRange(rungSegments[msn] - sourceSegments[msn], -0.1, 0.1));
        Assert.All(sourceSegments.Values.SkipLast(1), d => Assert.InRange(d, 1.9, 2.2)); // every other key frame
        var rungParts = rung.GetProperty("parts").EnumerateArray().ToList();
        Assert.All(rungParts.Where(p => p.GetProperty("uri").GetString()!.EndsWith(".0.m4s", StringComparison.Ordinal)),
            p => Assert.True(p.GetProperty("independent").GetBoolean(), p.ToString()));
        Assert.All(rungParts, p => Assert.InRange(p.GetProperty("duration").GetDouble(), 0.1, 0.334));

        // The same program date-time for the same pictures, so a player switching renditions lands where it was.
        Assert.Equal(ProgramDateTimes(sourceText).Where(kv => common.Contains(kv.Key)), ProgramDateTimes(rungText).Where(kv => common.Contains(kv.Key)));

        // Blocking reload on the rung: the next part comes once it exists.
        var hint = rungText.Split('\n').Single(l => l.StartsWith("#EXT-X-PRELOAD-HINT", StringComparison.Ordinal));
        var hinted = hint[(hint.IndexOf("URI=\"", StringComparison.Ordinal) + 5)..].TrimEnd('"');
        var msn = long.Parse(hinted.AsSpan(1, 6), CultureInfo.InvariantCulture);
        var part = int.Parse(hinted.AsSpan(8, hinted.Length - 12), CultureInfo.InvariantCulture);
        var blocked = await client.GetAsync($"/hls/{id}/360p30/index.m3u8?_HLS_msn={msn}&_HLS_part={part}", Ct);
        Assert.Equal(HttpStatusCode.OK, blocked.StatusCode);
        var partBytes = await client.GetByteArrayAsync($"/hls/{id}/360p30/{hinted}", Ct);
        Assert.Equal("moof", System.Text.Encoding.ASCII.GetString(partBytes.AsSpan(4, 4)));

        // A real decoder plays the live master (ffmpeg opens every variant) without errors; each rendition's replay
        // is decoded whole at the end.
        var (exit, output) = await Ffmpeg.RunAsync("ffmpeg",
            ["-v", "error", "-i", new Uri(app.BaseAddress, $"/hls/{id}/master.m3u8").ToString(), "-t", "6", "-f", "null", "-"], TimeSpan.FromSeconds(40));
        Assert.True(exit == 0 && output.Trim().Length == 0, output);

        // Supervision as before: ffmpeg killed mid-show is restarted, and the rung goes on after a discontinuity.
        var pid = app.Ingest().TranscoderProcessId(id)!.Value;
        System.Diagnostics.Process.GetProcessById(pid).Kill();
        var before = app.Recorded(id, "360p30").Count;
        await PasarApp.EventuallyAsync(() => Task.FromResult(app.Ingest().TranscoderProcessId(id) is { } next && next != pid && app.Recorded(id, "360p30").Count >= before + 2),
            TimeSpan.FromSeconds(40), "the rung after ffmpeg's restart");
        var restarted = await client.GetStringAsync($"/hls/{id}/360p30/index.m3u8", Ct);
        Assert.Contains("#EXT-X-MAP:URI=\"init002.mp4\"", restarted, StringComparison.Ordinal);
        await LowLatencyHlsTests.CheckAsync(restarted);

        // Numbered as the passthrough rendition after the restart too: the segments the rung has no pictures for are
        // EXT-X-GAP entries, and every media sequence number has the source's program date-time.
        var sourceAfter = ProgramDateTimes(await client.GetStringAsync($"/hls/{id}/source/index.m3u8", Ct));
        var rungAfter = ProgramDateTimes(restarted);
        var sharedAfter = rungAfter.Keys.Intersect(sourceAfter.Keys).ToList();
        Assert.True(sharedAfter.Count >= 3, restarted);
        Assert.All(sharedAfter, msn => Assert.True(sourceAfter[msn] == rungAfter[msn], $"msn {msn}: source {sourceAfter[msn]}, rung {rungAfter[msn]}\n{restarted}"));

        // The end: a replay per rendition and a master over both; each decodes.
        Assert.Equal(HttpStatusCode.OK, (await seller.PostAsync($"/api/live/sessions/{id}/end", null, Ct)).StatusCode);
        await PasarApp.EventuallyAsync(async () => (await client.GetAsync($"/hls/{id}/replay.m3u8", Ct)).StatusCode == HttpStatusCode.OK,
            TimeSpan.FromSeconds(30), "the replay");
        var replayMaster = await client.GetStringAsync($"/hls/{id}/replay.m3u8", Ct);
        Assert.Contains("source/replay.m3u8", replayMaster, StringComparison.Ordinal);
        Assert.Contains("360p30/replay.m3u8", replayMaster, StringComparison.Ordinal);
        foreach (var rendition in new[] { "source", "360p30" })
        {
            var replay = await client.GetStringAsync($"/hls/{id}/{rendition}/replay.m3u8", Ct);
            Assert.EndsWith("#EXT-X-ENDLIST\n", replay, StringComparison.Ordinal);
            var (replayExit, replayOutput) = await Ffmpeg.RunAsync("ffmpeg",
                ["-v", "error", "-i", new Uri(app.BaseAddress, $"/hls/{id}/{rendition}/replay.m3u8").ToString(), "-f", "null", "-"], TimeSpan.FromSeconds(60));
            Assert.True(replayExit == 0, $"{rendition}: {replayOutput}");
        }
    }

    private static Dictionary<long, double> Segments(JsonElement media) =>
        media.GetProperty("segments").EnumerateArray().ToDictionary(s => s.GetProperty("msn").GetInt64(), s => s.GetProperty("duration").GetDouble());

    /// <summary>msn → EXT-X-PROGRAM-DATE-TIME of each complete segment (an EXT-X-GAP entry too) in a media playlist.</summary>
    internal static Dictionary<long, string> ProgramDateTimes(string playlist)
    {
        var lines = playlist.Split('\n');
        var sequence = long.Parse(lines.Single(l => l.StartsWith("#EXT-X-MEDIA-SEQUENCE:", StringComparison.Ordinal))[22..], CultureInfo.InvariantCulture);
        var result = new Dictionary<long, string>();
        string? pdt = null;
        foreach (var line in lines)
        {
            if (line.StartsWith("#EXT-X-PROGRAM-DATE-TIME:", StringComparison.Ordinal))
            {
                pdt = line[25..];
            }
            else if (line.EndsWith(".m4s", StringComparison.Ordinal) && !line.StartsWith('#'))
            {
                result[sequence++] = pdt!;
            }
        }

        return result;
    }
}
