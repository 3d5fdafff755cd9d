using Pasar.Server.Live;

namespace Pasar.Server.Tests.Live;

public sealed class ReplayDateRangeTests
{
    private const string Vod = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:2.000,\nseg0.m4s\n#EXTINF:2.000,\nseg1.m4s\n#EXT-X-ENDLIST\n";

    [Fact]
    public void One_daterange_per_moment_dated_from_the_recording_start_before_the_first_segment()
    {
        var start = new DateTimeOffset(2026, 12, 2, 10, 0, 0, TimeSpan.Zero);
        var result = ReplayDateRanges.AddTo(Vod, start,
        [
            new ReplayMoment(3.5, "pin", "p1", "Batik \"shirt\"", 125000, "IDR"),
            new ReplayMoment(7, "flashSale", "p2", "Kopi", 9900, "IDR"),
        ]);

        var lines = result.Split('\n');
        var ranges = lines.Where(l => l.StartsWith("#EXT-X-DATERANGE:", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, ranges.Count);
        Assert.Contains("ID=\"moment-0\"", ranges[0]);
        Assert.Contains("CLASS=\"com.pasar.moment\"", ranges[0]);
        Assert.Contains("START-DATE=\"2026-12-02T10:00:03.500Z\"", ranges[0]);
        Assert.Contains("X-PRODUCT-ID=\"p1\"", ranges[0]);
        Assert.Contains("X-TITLE=\"Batik 'shirt'\"", ranges[0]);
        Assert.Contains("START-DATE=\"2026-12-02T10:00:07.000Z\"", ranges[1]);
        Assert.Contains("X-KIND=\"flashSale\"", ranges[1]);
        Assert.Contains("#EXT-X-PROGRAM-DATE-TIME:2026-12-02T10:00:00.000Z", lines);
        Assert.True(Array.IndexOf(lines, ranges[1]) < Array.FindIndex(lines, l => l.StartsWith("#EXTINF", StringComparison.Ordinal)));
        Assert.EndsWith("#EXT-X-ENDLIST\n", result);
        Assert.Equal(2, lines.Count(l => l.StartsWith("#EXTINF", StringComparison.Ordinal)));
    }

    [Fact]
    public void No_moments_leaves_the_playlist_unchanged() =>
        Assert.Equal(Vod, ReplayDateRanges.AddTo(Vod, DateTimeOffset.UnixEpoch, []));
}
