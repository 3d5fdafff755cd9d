using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Pasar.Server.Live.Cmaf;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.Live.Cmaf;

/// <summary>
/// A real ffmpeg publisher into a session with no ladder, packaged in-process as LL-HLS over CMAF: the playlists
/// checked by an independent parser (npm hls-parser), blocking reload, ffmpeg decoding the master playlist, no ffmpeg
/// started by the server, and the replay as a VOD playlist of the same segments.
/// </summary>
[Collection(FfmpegCollection.Name)]
public sealed class LowLatencyHlsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_passthrough_session_is_served_as_conformant_ll_hls_without_an_ffmpeg_process()
    {
        Ffmpeg.Require("ffmpeg");
        await using var app = await LiveApp.StartAsync(Backend.Embedded, s =>
        {
            s["Pasar:Live:Ladder"] = "";
            s["Pasar:Live:LowLatencyPassthrough"] = "true";
        });
        using var seller = await app.ClientAsAsync("seller-llhls", "seller");
        var (id, key) = await seller.CreateSessionAsync();
        var client = app.Client;
        await using var publisher = Ffmpeg.Publish(app.RtmpPort(), key, seconds: 40);
        await PasarApp.EventuallyAsync(async () => (await client.GetAsync($"/hls/{id}/master.m3u8", Ct)).StatusCode == HttpStatusCode.OK,
            TimeSpan.FromSeconds(20), "the master playlist");

        // No ffmpeg for passthrough: the only ffmpeg children of this process are the test's own publisher.
        Assert.Null(app.Ingest().TranscoderProcessId(id));
        Assert.NotNull(app.Ingest().LowLatency(id));
        Assert.Equal([publisher.ProcessId], FfmpegChildren());

        var master = await CheckAsync(await client.GetStringAsync($"/hls/{id}/master.m3u8", Ct));
        var variant = master.GetProperty("variants")[0];
        Assert.StartsWith("avc1.", variant.GetProperty("codecs").GetString(), StringComparison.Ordinal);
        Assert.Contains("mp4a.40.2", variant.GetProperty("codecs").GetString(), StringComparison.Ordinal);
        Assert.Equal(640, variant.GetProperty("resolution").GetProperty("width").GetInt32());

        var playlistResponse = await client.GetAsync($"/hls/{id}/source/index.m3u8", Ct);
        Assert.Equal("public, max-age=1", playlistResponse.Headers.CacheControl?.ToString());
        var text = await playlistResponse.Content.ReadAsStringAsync(Ct);
        var media = await CheckAsync(text);
        Assert.Equal(0.333, media.GetProperty("partTarget").GetDouble(), 3);
        // INDEPENDENT only on parts that start a segment here (each segment starts at the source's key frame, GOP 2 s).
        var parts = media.GetProperty("parts").EnumerateArray().ToList();
        Assert.All(parts.Where(p => p.GetProperty("independent").GetBoolean()), p => Assert.EndsWith(".0.m4s", p.GetProperty("uri").GetString(), StringComparison.Ordinal));

        // Blocking reload: ask for the part named by the preload hint; the answer comes once it exists, within a bound.
        var hint = text.Split('\n').Single(l => l.StartsWith("#EXT-X-PRELOAD-HINT", StringComparison.Ordinal));
        var hinted = hint[(hint.IndexOf("URI=\"", StringComparison.Ordinal) + 5)..].TrimEnd('"');
        var msn = long.Parse(hinted.AsSpan(1, 6), CultureInfo.InvariantCulture);
        var part = int.Parse(hinted.AsSpan(8, hinted.Length - 12), CultureInfo.InvariantCulture);
        Assert.DoesNotContain($"URI=\"{hinted}\"", text.Replace(hint, "", StringComparison.Ordinal), StringComparison.Ordinal);
        var clock = Stopwatch.StartNew();
        var blocked = await client.GetAsync($"/hls/{id}/source/index.m3u8?_HLS_msn={msn}&_HLS_part={part}", Ct);
        clock.Stop();
        Assert.Equal(HttpStatusCode.OK, blocked.StatusCode);
        var after = await blocked.Content.ReadAsStringAsync(Ct);
        Assert.True(after.Contains($"URI=\"{hinted}\"", StringComparison.Ordinal) || after.Contains($"\nc{msn:D6}.m4s\n", StringComparison.Ordinal), after);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(2), $"blocked for {clock.Elapsed}");
        await CheckAsync(after);

        // A preload-hinted part requested early is streamed as it is written: its chunks arrive over the part's
        // duration (the publisher runs in real time), and together they are the part as served once complete.
        await StreamsTheHintedPartAsync(client, id, after);

        // An msn far in the future is refused at once.
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync($"/hls/{id}/source/index.m3u8?_HLS_msn={msn + 100}", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.GetAsync($"/hls/{id}/source/index.m3u8?_HLS_part=1", Ct)).StatusCode);

        // A real decoder reads the playlists as ordinary HLS: 10 s without errors.
        var (exit, output) = await Ffmpeg.RunAsync("ffmpeg",
            ["-v", "error", "-i", new Uri(app.BaseAddress, $"/hls/{id}/master.m3u8").ToString(), "-t", "10", "-f", "null", "-"], TimeSpan.FromSeconds(40));
        Assert.True(exit == 0 && output.Trim().Length == 0, output);

        // Once the playlist holds more than CAN-SKIP-UNTIL (6 target durations) of segments, a delta update skips
        // the older ones. (The publisher runs in real time; how far it is by now depends on the machine's load.)
        var delta = "";
        await PasarApp.EventuallyAsync(async () =>
        {
            delta = await client.GetStringAsync($"/hls/{id}/source/index.m3u8?_HLS_skip=YES", Ct);
            return delta.Contains("#EXT-X-SKIP:SKIPPED-SEGMENTS=", StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(40), "a delta playlist that skips segments");
        Assert.True((await CheckAsync(delta)).GetProperty("skip").GetInt32() > 0, delta);

        // /metrics has the part latency and the blocked-request counts.
        var metrics = await client.GetStringAsync("/metrics", Ct);
        Assert.Contains("pasar_live_part_latency", metrics, StringComparison.Ordinal);
        Assert.Contains("pasar_live_hls_blocked_requests", metrics, StringComparison.Ordinal);

        // The session ends: the replay is a VOD playlist of the same CMAF segments, and it decodes.
        Assert.Equal(HttpStatusCode.OK, (await seller.PostAsync($"/api/live/sessions/{id}/end", null, Ct)).StatusCode);
        await PasarApp.EventuallyAsync(async () => (await client.GetAsync($"/hls/{id}/source/replay.m3u8", Ct)).StatusCode == HttpStatusCode.OK,
            TimeSpan.FromSeconds(20), "the replay");
        var replay = await client.GetStringAsync($"/hls/{id}/source/replay.m3u8", Ct);
        Assert.EndsWith("#EXT-X-ENDLIST\n", replay, StringComparison.Ordinal);
        Assert.Contains("#EXT-X-MAP:URI=\"init001.mp4\"", replay, StringComparison.Ordinal);
        var (replayExit, replayOutput) = await Ffmpeg.RunAsync("ffmpeg",
            ["-v", "error", "-i", new Uri(app.BaseAddress, $"/hls/{id}/replay.m3u8").ToString(), "-f", "null", "-"], TimeSpan.FromSeconds(60));
        Assert.True(replayExit == 0 && replayOutput.Trim().Length == 0, replayOutput);
    }

    [Fact]
    public async Task A_streamed_part_whose_publisher_stalls_is_cut_off_never_served_short()
    {
        Ffmpeg.Require("ffmpeg");
        await using var app = await LiveApp.StartAsync(Backend.Embedded, s =>
        {
            s["Pasar:Live:Ladder"] = "";
            s["Pasar:Live:LowLatencyPassthrough"] = "true";
        });
        using var seller = await app.ClientAsAsync("seller-stall", "seller");
        var (id, key) = await seller.CreateSessionAsync();
        var client = app.Client;
        await using var publisher = Ffmpeg.Publish(app.RtmpPort(), key, seconds: 60);
        await PasarApp.EventuallyAsync(async () => (await client.GetAsync($"/hls/{id}/source/index.m3u8", Ct)).StatusCode == HttpStatusCode.OK,
            TimeSpan.FromSeconds(20), "the media playlist");

        // Line up at a part boundary: the hint of a blocking reload's answer is the part just opened.
        var (msn, part) = Hint(await client.GetStringAsync($"/hls/{id}/source/index.m3u8", Ct));
        var (nextMsn, nextPart) = Hint(await client.GetStringAsync($"/hls/{id}/source/index.m3u8?_HLS_msn={msn}&_HLS_part={part}", Ct));
        var url = $"/hls/{id}/source/{LowLatencyPackager.PartName(nextMsn, nextPart)}";
        using var response = await client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, Ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await using var body = await response.Content.ReadAsStreamAsync(Ct);
        var buffer = new byte[1 << 16];
        var received = await body.ReadAsync(buffer, Ct); // the part's first chunk
        Assert.True(received > 0);

        // The publisher freezes mid-part (SIGSTOP: its connection stays open, nothing more arrives).
        Signal(publisher.ProcessId, "STOP");
        try
        {
            var clock = Stopwatch.StartNew();
            var ended = await Assert.ThrowsAnyAsync<Exception>(async () =>
            {
                while (await body.ReadAsync(buffer, Ct) is var n && n > 0)
                {
                    received += n;
                }
            });
            // Cut off after the wait limit (three target durations), not answered as if the part were whole.
            Assert.True(ended is IOException or HttpRequestException, ended.ToString());
            Assert.InRange(clock.Elapsed, TimeSpan.FromSeconds(2), TimeSpan.FromSeconds(20));
        }
        finally
        {
            Signal(publisher.ProcessId, "CONT");
        }

        // The show goes on: the same part, once complete, is served whole, and longer than what was cut off.
        byte[] whole = [];
        await PasarApp.EventuallyAsync(async () =>
        {
            var answer = await client.GetAsync(url, Ct);
            whole = answer.StatusCode == HttpStatusCode.OK ? await answer.Content.ReadAsByteArrayAsync(Ct) : [];
            return answer.Content.Headers.ContentLength is not null && whole.Length > 0;
        }, TimeSpan.FromSeconds(20), "the part once the publisher resumed");
        Assert.True(whole.Length > received, $"{whole.Length} bytes whole, {received} before the cut");
    }

    private static (long Msn, int Part) Hint(string playlist)
    {
        var hint = playlist.Split('\n').Single(l => l.StartsWith("#EXT-X-PRELOAD-HINT", StringComparison.Ordinal));
        var name = hint[(hint.IndexOf("URI=\"", StringComparison.Ordinal) + 5)..].TrimEnd('"');
        Assert.True(LowLatencyPackager.TryParseMedia(name, out var msn, out var part) && part is not null, name);
        return (msn, part!.Value);
    }

    private static void Signal(int pid, string signal)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", [$"-{signal}", pid.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
        kill.WaitForExit();
    }

    private static async Task StreamsTheHintedPartAsync(HttpClient client, string id, string playlist)
    {
        var outcomes = new List<string>();
        for (var attempt = 0; attempt < 5; attempt++)
        {
            var (msn, part) = Hint(playlist);
            var hinted = LowLatencyPackager.PartName(msn, part);
            var clock = Stopwatch.StartNew();
            using var response = await client.GetAsync($"/hls/{id}/source/{hinted}", HttpCompletionOption.ResponseHeadersRead, Ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("public, max-age=31536000, immutable", response.Headers.CacheControl?.ToString());
            Assert.Equal("video/mp4", response.Content.Headers.ContentType?.MediaType);
            await using var body = await response.Content.ReadAsStreamAsync(Ct);
            var streamed = new MemoryStream();
            var buffer = new byte[1 << 16];
            TimeSpan? first = null;
            int read;
            while ((read = await body.ReadAsync(buffer, Ct)) > 0)
            {
                first ??= clock.Elapsed;
                streamed.Write(buffer, 0, read);
            }

            var spread = clock.Elapsed - first!.Value;
            var bytes = streamed.ToArray();
            Assert.Equal(await client.GetByteArrayAsync($"/hls/{id}/source/{hinted}", Ct), bytes);
            Assert.Equal("moof", System.Text.Encoding.ASCII.GetString(bytes.AsSpan(4, 4)));
            var chunks = 0;
            for (var offset = 0; offset + 8 <= bytes.Length; offset += (int)System.Buffers.Binary.BinaryPrimitives.ReadUInt32BigEndian(bytes.AsSpan(offset)))
            {
                chunks += bytes.AsSpan(offset + 4, 4).SequenceEqual("moof"u8) ? 1 : 0;
            }

            // Streamed: no length known up front, several chunks, the last well after the first.
            if (response.Content.Headers.ContentLength is null && chunks > 1 && spread >= TimeSpan.FromMilliseconds(50))
            {
                return;
            }

            // The request came too late (the part was complete already): try the next hint.
            outcomes.Add($"{hinted}: length {response.Content.Headers.ContentLength}, {chunks} chunks over {spread.TotalMilliseconds:F0} ms");
            playlist = await client.GetStringAsync($"/hls/{id}/source/index.m3u8?_HLS_msn={msn}&_HLS_part={part}", Ct);
        }

        Assert.Fail("The hinted part was never streamed: " + string.Join("; ", outcomes));
    }

    [Fact]
    public async Task A_b_frame_publisher_replays_every_source_frame_once_in_order()
    {
        Ffmpeg.Require("ffmpeg");
        await using var app = await LiveApp.StartAsync(Backend.Embedded, s =>
        {
            s["Pasar:Live:Ladder"] = "";
            s["Pasar:Live:LowLatencyPassthrough"] = "true";
        });
        using var seller = await app.ClientAsAsync("seller-bframes", "seller");
        var (id, key) = await seller.CreateSessionAsync();
        var dir = Directory.CreateTempSubdirectory("pasar-bframes-").FullName;
        try
        {
            // OBS-like x264: high profile, B-frames, a 2 s GOP; sent as it is (-c copy), in real time.
            var source = Path.Combine(dir, "source.flv");
            var (encodeExit, encodeOutput) = await Ffmpeg.RunAsync("ffmpeg",
            [
                "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=30",
                "-f", "lavfi", "-i", "sine=frequency=440", "-t", "8", "-c:v", "libx264", "-profile:v", "high", "-preset", "veryfast",
                "-bf", "3", "-g", "60", "-c:a", "aac", "-f", "flv", source,
            ], TimeSpan.FromSeconds(60));
            Assert.True(encodeExit == 0, encodeOutput);
            var sourceFrames = await VideoFramePtsAsync(source);

            var (publishExit, publishOutput) = await Ffmpeg.RunAsync("ffmpeg",
                ["-hide_banner", "-loglevel", "error", "-re", "-i", source, "-c", "copy", "-f", "flv", $"rtmp://127.0.0.1:{app.RtmpPort()}/live/{key}"],
                TimeSpan.FromSeconds(40));
            Assert.True(publishExit == 0, publishOutput);
            Assert.Equal(HttpStatusCode.OK, (await seller.PostAsync($"/api/live/sessions/{id}/end", null, Ct)).StatusCode);
            await PasarApp.EventuallyAsync(async () => (await app.Client.GetAsync($"/hls/{id}/source/replay.m3u8", Ct)).StatusCode == HttpStatusCode.OK,
                TimeSpan.FromSeconds(20), "the replay");

            var replayFrames = await VideoFramePtsAsync(new Uri(app.BaseAddress, $"/hls/{id}/source/replay.m3u8").ToString());
            Assert.Equal(sourceFrames.Count, replayFrames.Count);
            var step = replayFrames[1] - replayFrames[0];
            Assert.All(replayFrames.Zip(replayFrames.Skip(1)), pair => Assert.InRange(pair.Second - pair.First, step * 0.9, step * 1.1));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_four_second_gop_gives_four_second_segments_and_parts_still_every_part_target()
    {
        Ffmpeg.Require("ffmpeg");
        await using var app = await LiveApp.StartAsync(Backend.Embedded, s =>
        {
            s["Pasar:Live:Ladder"] = "";
            s["Pasar:Live:LowLatencyPassthrough"] = "true";
        });
        using var seller = await app.ClientAsAsync("seller-gop4", "seller");
        var (id, key) = await seller.CreateSessionAsync();
        await using var publisher = Ffmpeg.Publish(app.RtmpPort(), key, seconds: 30, rate: 30, gop: 120);
        await PasarApp.EventuallyAsync(() => Task.FromResult(app.Ingest().LowLatency(id)?.SegmentCount >= 2), TimeSpan.FromSeconds(30), "two segments");
        var media = await CheckAsync(await app.Client.GetStringAsync($"/hls/{id}/source/index.m3u8", Ct));
        Assert.Equal(4, media.GetProperty("targetDuration").GetInt32());
        Assert.All(media.GetProperty("segments").EnumerateArray(), s => Assert.InRange(s.GetProperty("duration").GetDouble(), 3.9, 4.1));
        var parts = media.GetProperty("parts").EnumerateArray().ToList();
        var complete = parts.GroupBy(p => p.GetProperty("msn").GetInt64()).First();
        Assert.InRange(complete.Count(), 12, 14); // 4 s in parts of at most 0.333 s
        Assert.Single(complete, p => p.GetProperty("independent").GetBoolean());
    }

    [Fact]
    public async Task A_publisher_restart_mid_show_continues_after_a_discontinuity_with_a_new_init_segment()
    {
        Ffmpeg.Require("ffmpeg");
        await using var app = await LiveApp.StartAsync(Backend.Embedded, s =>
        {
            s["Pasar:Live:Ladder"] = "";
            s["Pasar:Live:LowLatencyPassthrough"] = "true";
        });
        using var seller = await app.ClientAsAsync("seller-llrestart", "seller");
        var (id, key) = await seller.CreateSessionAsync();
        await using (var first = Ffmpeg.Publish(app.RtmpPort(), key, seconds: 30))
        {
            await PasarApp.EventuallyAsync(() => Task.FromResult(app.Ingest().LowLatency(id)?.SegmentCount >= 2), TimeSpan.FromSeconds(20), "two segments");
            first.Kill();
        }

        var before = app.Ingest().LowLatency(id)!.SegmentCount;
        await using (var second = Ffmpeg.Publish(app.RtmpPort(), key, seconds: 30))
        {
            await PasarApp.EventuallyAsync(() => Task.FromResult(app.Ingest().LowLatency(id)!.SegmentCount >= before + 2), TimeSpan.FromSeconds(20), "segments after the restart");
            var live = await app.Client.GetStringAsync($"/hls/{id}/source/index.m3u8", Ct);
            Assert.Contains("#EXT-X-DISCONTINUITY\n#EXT-X-MAP:URI=\"init002.mp4\"", live, StringComparison.Ordinal);
            await CheckAsync(live);
        }

        Assert.Equal(HttpStatusCode.OK, (await seller.PostAsync($"/api/live/sessions/{id}/end", null, Ct)).StatusCode);
        await PasarApp.EventuallyAsync(async () => (await app.Client.GetAsync($"/hls/{id}/source/replay.m3u8", Ct)).StatusCode == HttpStatusCode.OK,
            TimeSpan.FromSeconds(20), "the replay");
        var replay = await app.Client.GetStringAsync($"/hls/{id}/source/replay.m3u8", Ct);
        Assert.Contains("#EXT-X-DISCONTINUITY", replay, StringComparison.Ordinal);
        var (exit, output) = await Ffmpeg.RunAsync("ffmpeg",
            ["-v", "error", "-i", new Uri(app.BaseAddress, $"/hls/{id}/replay.m3u8").ToString(), "-f", "null", "-"], TimeSpan.FromSeconds(60));
        Assert.True(exit == 0, output);
    }

    /// <summary>Presentation times (seconds) of the decoded video frames of a file or URL, in output order.</summary>
    private static async Task<List<double>> VideoFramePtsAsync(string input)
    {
        var (exit, output) = await Ffmpeg.RunAsync("ffprobe",
            ["-v", "error", "-select_streams", "v:0", "-show_entries", "frame=pts_time", "-of", "csv=p=0", input], TimeSpan.FromSeconds(60));
        Assert.True(exit == 0, output);
        return [.. output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => double.Parse(l.Trim().TrimEnd(','), CultureInfo.InvariantCulture))];
    }

    /// <summary>Runs the node checker (hls-parser in strict mode plus the LL-HLS rule checks) on a playlist.</summary>
    internal static async Task<JsonElement> CheckAsync(string playlist)
    {
        var node = Ffmpeg.Require("node");
        // The checker lives in the source tree (its node_modules too, git-ignored): found by walking up from the build output.
        var dir = AppContext.BaseDirectory;
        while (!Directory.Exists(Path.Combine(dir, "tests", "Pasar.Server.Tests", "Live", "hls-check")))
        {
            dir = Path.GetDirectoryName(dir.TrimEnd(Path.DirectorySeparatorChar)) ?? throw new InvalidOperationException("tests/Pasar.Server.Tests/Live/hls-check not found");
        }

        dir = Path.Combine(dir, "tests", "Pasar.Server.Tests", "Live", "hls-check");
        if (!Directory.Exists(Path.Combine(dir, "node_modules", "hls-parser")))
        {
            var (npmExit, npmOutput) = await Ffmpeg.RunAsync("npm", ["ci", "--prefix", dir, "--no-audit", "--no-fund"], TimeSpan.FromSeconds(120));
            Assert.True(npmExit == 0, npmOutput);
        }

        var file = Path.GetTempFileName();
        try
        {
            await File.WriteAllTextAsync(file, playlist, Ct);
            var (_, output) = await Ffmpeg.RunAsync(node, [Path.Combine(dir, "check.mjs"), file], TimeSpan.FromSeconds(30));
            var result = JsonDocument.Parse(output).RootElement.Clone();
            Assert.True(result.GetProperty("ok").GetBoolean(), $"{output}\n{playlist}");
            return result;
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>Process ids of running ffmpeg processes whose parent is this test process.</summary>
    private static List<int> FfmpegChildren()
    {
        var self = Environment.ProcessId.ToString(CultureInfo.InvariantCulture);
        var found = new List<int>();
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }

            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var close = stat.LastIndexOf(')');
                var comm = stat[(stat.IndexOf('(') + 1)..close];
                var ppid = stat[(close + 2)..].Split(' ')[1];
                if (comm == "ffmpeg" && ppid == self)
                {
                    found.Add(pid);
                }
            }
            catch (IOException)
            {
            }
        }

        return found;
    }
}
