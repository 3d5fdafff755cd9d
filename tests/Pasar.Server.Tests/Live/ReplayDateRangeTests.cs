using Pasar.Server.Live;

namespace Pasar.Server.Tests.Live;

public sealed class ReplayDateRangeTests
{
    private const string Vod = "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:2.000,\nseg0.m4s\n#EXTINF:2.000,\nseg1.m4s\n#EXT-X-ENDLIST\n";

    // Two runs of a publisher with a 10 s gap between them (it reconnected): 4 s, then 4 s more.
    private const string Reconnected =
        "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-TARGETDURATION:2\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MAP:URI=\"init001.mp4\"\n" +
        "#EXT-X-PROGRAM-DATE-TIME:2026-12-02T10:00:00.000Z\n#EXTINF:2.00000,\nc000000.m4s\n" +
        "#EXT-X-PROGRAM-DATE-TIME:2026-12-02T10:00:02.000Z\n#EXTINF:2.00000,\nc000001.m4s\n" +
        "#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"init002.mp4\"\n" +
        "#EXT-X-PROGRAM-DATE-TIME:2026-12-02T10:00:14.000Z\n#EXTINF:2.00000,\nc000002.m4s\n" +
        "#EXT-X-PROGRAM-DATE-TIME:2026-12-02T10:00:16.000Z\n#EXTINF:2.00000,\nc000003.m4s\n#EXT-X-ENDLIST\n";

    private static readonly DateTimeOffset Start = new(2026, 12, 2, 10, 0, 0, TimeSpan.Zero);

    [Fact]
    public void One_daterange_per_moment_before_the_first_segment_with_a_program_date_time_to_anchor_it()
    {
        var result = ReplayDateRanges.AddTo(Vod, Start,
        [
            new DateRangeMoment("a", Start.AddSeconds(3.5), new ReplayMoment(3.5, "pin", "p1", "Batik \"shirt\"", 125000, "IDR")),
            new DateRangeMoment("b", Start.AddSeconds(7), new ReplayMoment(7, "flashSale", "p2", "Kopi", 9900, "IDR")),
        ]);

        var lines = result.Split('\n');
        var ranges = lines.Where(l => l.StartsWith("#EXT-X-DATERANGE:", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, ranges.Count);
        Assert.Contains("ID=\"moment-a\"", ranges[0]);
        Assert.Contains("CLASS=\"com.pasar.moment\"", ranges[0]);
        Assert.Contains("START-DATE=\"2026-12-02T10:00:03.500Z\"", ranges[0]);
        Assert.Contains("X-PASAR-PRODUCT-ID=\"p1\"", ranges[0]);
        Assert.Contains("X-PASAR-TITLE=\"Batik 'shirt'\"", ranges[0]);
        Assert.Contains("X-PASAR-PRICE-MINOR=125000", ranges[0]);
        Assert.Contains("START-DATE=\"2026-12-02T10:00:07.000Z\"", ranges[1]);
        Assert.Contains("X-PASAR-KIND=\"flashSale\"", ranges[1]);
        Assert.Contains("#EXT-X-PROGRAM-DATE-TIME:2026-12-02T10:00:00.000Z", lines);
        Assert.True(Array.IndexOf(lines, ranges[1]) < Array.FindIndex(lines, l => l.StartsWith("#EXTINF", StringComparison.Ordinal)));
        Assert.EndsWith("#EXT-X-ENDLIST\n", result);
        Assert.Equal(2, lines.Count(l => l.StartsWith("#EXTINF", StringComparison.Ordinal)));
    }

    [Fact]
    public void Writing_the_tags_again_keeps_one_per_moment()
    {
        IReadOnlyList<DateRangeMoment> moments = [new DateRangeMoment("a", Start.AddSeconds(1), new ReplayMoment(1, "pin", "p1", "Batik", 1, "IDR"))];
        var once = ReplayDateRanges.AddTo(Vod, Start, moments);
        var twice = ReplayDateRanges.AddTo(once, Start, moments);
        Assert.Equal(once, twice);
    }

    [Fact]
    public void No_moments_leaves_the_playlist_unchanged() =>
        Assert.Equal(Vod, ReplayDateRanges.AddTo(Vod, DateTimeOffset.UnixEpoch, []));

    [Fact]
    public void A_moment_maps_across_a_reconnect_gap_by_the_segments_own_times()
    {
        var timeline = ReplayTimeline.Parse(Reconnected, fallbackStart: null);
        Assert.Equal(8, timeline.DurationSeconds, 3);
        Assert.Equal(1.5, timeline.OffsetOf(Start.AddSeconds(1.5)), 3);
        Assert.Equal(5, timeline.OffsetOf(Start.AddSeconds(15)), 3); // 1 s into the second run, after 4 s of the first
        Assert.Equal(4, timeline.OffsetOf(Start.AddSeconds(8)), 3); // while the publisher was away: where the show resumed
        Assert.Equal(0, timeline.OffsetOf(Start.AddSeconds(-5)), 3);
        Assert.Equal(8, timeline.OffsetOf(Start.AddMinutes(5)), 3);
        Assert.Equal(Start.AddSeconds(15), timeline.WallClockAt(5));
        Assert.Equal(Start.AddSeconds(1.5), timeline.WallClockAt(1.5));
    }

    [Fact]
    public void Without_program_date_times_a_moment_is_placed_from_the_session_s_start()
    {
        var timeline = ReplayTimeline.Parse(Vod, Start);
        Assert.False(timeline.HasProgramDateTimes);
        Assert.Equal(3.25, timeline.OffsetOf(Start.AddSeconds(3.25)), 3);
        Assert.Equal(4, timeline.OffsetOf(Start.AddSeconds(30)), 3);
        Assert.Equal(Start.AddSeconds(3.25), timeline.WallClockAt(3.25));
    }
}
