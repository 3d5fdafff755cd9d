using System.Buffers;
using System.Diagnostics.Metrics;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Pasar.Rtmp;
using Pasar.Server.Live;
using Pasar.Server.Live.Cmaf;
using Pasar.Server.Platform;

namespace Pasar.Server.Tests.Live.Cmaf;

/// <summary>
/// A transcoded rung whose ffmpeg was down for whole segments: the packager numbers the rung as the passthrough
/// rendition (the missed segments are EXT-X-GAP entries), and a rung restarted mid-segment waits for the source's
/// next cut. Fed frame by frame, in the order a live show interleaves them, from a real ffmpeg encode.
/// </summary>
[Collection(FfmpegCollection.Name)]
public sealed class RungAlignmentTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pasar-rung-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_rung_down_for_whole_segments_keeps_the_source_numbering_with_gaps()
    {
        // 25 fps with a key frame every second: the source cuts every other key frame (2 s segments), so a rung
        // back at an odd key frame is mid-segment.
        var flv = Path.Combine(_dir, "source.flv");
        var (exit, output) = await Ffmpeg.RunAsync("ffmpeg",
        [
            "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
            "-t", "14", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-keyint_min", "25", "-sc_threshold", "0",
            "-c:a", "aac", "-f", "flv", flv,
        ], TimeSpan.FromSeconds(60));
        Assert.True(exit == 0, output);

        var options = new LiveOptions();
        var metrics = new LiveMetrics(new PasarMetrics(new ServiceCollection().AddMetrics().BuildServiceProvider().GetRequiredService<IMeterFactory>()));
        var start = DateTimeOffset.Parse("2026-12-04T10:00:00Z", CultureInfo.InvariantCulture);
        var time = new FakeTimeProvider(start);
        var source = new LowLatencyPackager(_dir, options, metrics, time);
        var rung = new LowLatencyPackager(_dir, options, metrics, time, rendition: "360p30") { Follow = source };
        var info = new RenditionInfo { Name = "360p30" };
        source.BeginRun();
        rung.BeginRun();
        var sourceReader = new CmafRungOutput.FlvRungReader(info);
        var rungReader = new CmafRungOutput.FlvRungReader(info);

        // The rung's ffmpeg dies at 4.5 s and is back at 8.5 s (its first key frame, 9 s, is mid-segment).
        var (header, tags) = Tags(File.ReadAllBytes(flv));
        sourceReader.Read(new ReadOnlySequence<byte>(header), source);
        rungReader.Read(new ReadOnlySequence<byte>(header), rung);
        var sequenceHeaders = tags.Where(t => t.Timestamp == 0 && t.SequenceHeader).ToList();
        var restarted = false;
        foreach (var tag in tags)
        {
            var arrival = start + TimeSpan.FromMilliseconds(tag.Timestamp + 50);
            if (arrival > time.GetUtcNow())
            {
                time.SetUtcNow(arrival);
            }

            sourceReader.Read(new ReadOnlySequence<byte>(tag.Bytes), source);
            if (tag.Timestamp >= 8500 && !restarted)
            {
                restarted = true;
                rung.BeginRun();
                rungReader = new CmafRungOutput.FlvRungReader(info);
                rungReader.Read(new ReadOnlySequence<byte>(header), rung);
                foreach (var sequence in sequenceHeaders)
                {
                    rungReader.Read(new ReadOnlySequence<byte>(sequence.Bytes), rung);
                }
            }

            if (tag.Timestamp < 4500 || tag.Timestamp >= 8500)
            {
                rungReader.Read(new ReadOnlySequence<byte>(tag.Bytes), rung);
            }
        }

        var sourceText = source.MediaPlaylist(skip: false)!;
        var rungText = rung.MediaPlaylist(skip: false)!;
        await LowLatencyHlsTests.CheckAsync(rungText);

        // Source: 0–2, 2–4, 4–6, 6–8, 8–10, 10–12 s, … The rung has 0, 1, 2 (cut short at 4.5 s), gaps for 3 and 4,
        // and is back at 10 s with segment 5.
        var sourceTimes = TranscodedLadderTests.ProgramDateTimes(sourceText);
        var rungTimes = TranscodedLadderTests.ProgramDateTimes(rungText);
        Assert.Equal([0L, 1, 2, 3, 4, 5], rungTimes.Keys.Order().Take(6));
        Assert.All(rungTimes.Keys.Where(sourceTimes.ContainsKey), msn => Assert.True(sourceTimes[msn] == rungTimes[msn], $"msn {msn}\n{rungText}"));
        Assert.Equal(2, rungText.Split('\n').Count(l => l == "#EXT-X-GAP"));
        Assert.StartsWith("#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"init002.mp4\"\n", rungText.Split("\nc000004.m4s\n")[1], StringComparison.Ordinal);
        var gapDuration = rungText.Split('\n').SkipWhile(l => l != "#EXT-X-GAP").Skip(1).First();
        Assert.StartsWith("#EXTINF:2.0", gapDuration, StringComparison.Ordinal);
        Assert.Null(rung.Media("c000003.m4s"));

        // Gaps are not recorded: the replay has the rung's own segments only, and it decodes.
        Assert.Equal(["c000000.m4s", "c000001.m4s", "c000002.m4s", "c000005.m4s"], rung.Recorded().Select(s => s.File).Take(4));
        Assert.True(rung.Finish());
        source.Finish();
        var replay = File.ReadAllText(Path.Combine(_dir, "360p30", HlsPackager.ReplayFile));
        Assert.DoesNotContain("GAP", replay, StringComparison.Ordinal);
        var (decodeExit, decodeErrors) = await Ffmpeg.RunAsync("ffmpeg", ["-v", "error", "-i", Path.Combine(_dir, "360p30", HlsPackager.ReplayFile), "-f", "null", "-"], TimeSpan.FromSeconds(60));
        Assert.True(decodeExit == 0 && decodeErrors.Trim().Length == 0, decodeErrors);
    }

    /// <summary>The FLV header, then each tag's bytes (with its previous-tag-size) and timestamp.</summary>
    private static (byte[] Header, List<(uint Timestamp, bool SequenceHeader, byte[] Bytes)> Tags) Tags(byte[] flv)
    {
        var sequence = new ReadOnlySequence<byte>(flv);
        var reader = new SequenceReader<byte>(sequence);
        Assert.True(FlvReader.TryReadHeader(ref reader, out _, out _));
        var header = flv[..(int)reader.Consumed];
        var tags = new List<(uint, bool, byte[])>();
        var from = reader.Consumed;
        while (FlvReader.TryReadTag(ref reader, out var tag))
        {
            var body = tag.Data.ToArray();
            var isSequenceHeader = body.Length > 1 && body[1] == 0 && tag.Type is FlvTagType.Video or FlvTagType.Audio;
            tags.Add((tag.Timestamp, isSequenceHeader, flv[(int)from..(int)reader.Consumed]));
            from = reader.Consumed;
        }

        return (header, tags);
    }
}
