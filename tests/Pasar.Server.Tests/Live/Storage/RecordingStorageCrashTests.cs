using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using Amazon.S3;
using Amazon.S3.Model;
using Dapper;
using Pasar.Server.Tests.Infrastructure;
using Pasar.Testing;

namespace Pasar.Server.Tests.Live.Storage;

/// <summary>Crash safety of the recording uploads: a real server process killed with -9 mid-show and restarted.</summary>
public sealed partial class RecordingStorageTests
{
    /// <summary>
    /// The passthrough rendition (packaged in-process, CMAF) and a transcoded rung (ffmpeg, MPEG-TS) each. The store
    /// is down for the last seconds before the kill, so the node dies with segments on disk that no one uploaded.
    /// </summary>
    [Theory]
    [InlineData("", "source")]
    [InlineData("360p30", "360p30")]
    public async Task A_node_killed_mid_show_and_restarted_within_the_grace_uploads_what_it_had_and_the_replay_is_complete_and_plays(string ladder, string rendition)
    {
        var swift = await fixture.ServerAsync();
        var bucket = "crash" + Guid.NewGuid().ToString("N")[..10];
        var dataDir = Path.Combine(Path.GetTempPath(), "pasar-upload-crash-" + Guid.NewGuid().ToString("N")[..8]);
        var settings = await PasarApp.SettingsForAsync(Backend.Embedded, dataDir);
        SwiftTesting.Configure(settings, swift, bucket);
        settings["Pasar:Live:Ladder"] = ladder;
        settings["Pasar:Live:ReconnectGraceSeconds"] = "300";
        settings["Logging:LogLevel:Pasar.Server.Live"] = "Information";
        // 640x480: a 360p rung is below the source, so the ladder transcodes it (a rung not below the source is left out).
        var rtmpPort = LocalServers.FreePort();
        settings["Pasar:Rtmp:Port"] = rtmpPort.ToString(CultureInfo.InvariantCulture);
        var port = LocalServers.FreePort();
        using var s3 = SwiftTesting.Client(swift);
        var folder = Path.Combine(dataDir, "hls");
        try
        {
            string id, key;
            double firstSeconds;
            List<string> notUploaded;
            await using (var server = await ServerProcess.StartAsync(settings, port))
            {
                using var seller = server.NewClient(await server.TokenAsync("seller-crash", "seller"));
                var created = await (await seller.PostAsJsonAsync("/api/live/sessions", new { title = "Crash show" }, Ct)).JsonAsync();
                id = created.GetProperty("id").GetString()!;
                key = created.GetProperty("streamKey").GetString()!;
                var published = Stopwatch.StartNew();
                await using var publisher = Ffmpeg.Publish(rtmpPort, key, seconds: 120, size: "640x480");
                var dir = Path.Combine(folder, id, rendition);
                await WithOutputAsync(server, () => PasarApp.EventuallyAsync(
                    async () => (await KeysAsync(s3, bucket, $"live/{id}/{rendition}/")).Count(k => !k.EndsWith(".mp4", StringComparison.Ordinal)) >= 3,
                    TimeSpan.FromSeconds(90), "three segments of the show in the store"));

                // The store goes away: what completes from now on stays on the node's disk only.
                await swift.StopProxyAsync();
                var before = Segments(dir);
                await PasarApp.EventuallyAsync(() => Task.FromResult(Segments(dir).Except(before).Count() >= 3), TimeSpan.FromSeconds(60), "three more segments on disk");
                notUploaded = [.. Segments(dir).Except(before)];
                server.Kill();
                firstSeconds = published.Elapsed.TotalSeconds;
            }

            await swift.StartProxyAsync();
            TimeSpan down;
            var downtime = Stopwatch.StartNew();
            await using (var server = await ServerProcess.StartAsync(settings, port))
            {
                down = downtime.Elapsed;
                using var seller = server.NewClient(await server.TokenAsync("seller-crash", "seller"));
                Assert.Equal("live", await seller.StatusAsync(id));
                const double secondSeconds = 12;
                await using (var publisher = Ffmpeg.Publish(rtmpPort, key, seconds: secondSeconds, size: "640x480"))
                {
                    var (exit, output) = await publisher.WaitAsync(TimeSpan.FromSeconds(90));
                    Assert.True(exit == 0, output);
                }

                Assert.Equal(HttpStatusCode.OK, (await seller.PostAsync($"/api/live/sessions/{id}/end", null, Ct)).StatusCode);
                await using var db = PasarApp.DatabaseFor(settings);
                await PasarApp.EventuallyAsync(async () =>
                {
                    await using var c = await db.OpenAsync(Ct);
                    return await c.ExecuteScalarAsync<string?>("SELECT upload_state FROM live_sessions WHERE id = @id", new { id }) == "stored";
                }, TimeSpan.FromSeconds(120), "the recording to be stored");

                // The replay playlist as the store holds it: every segment once, in order, each in the store.
                var keys = await KeysAsync(s3, bucket, $"live/{id}/");
                var replay = await GetTextAsync(s3, bucket, $"live/{id}/{rendition}/replay.m3u8");
                var lines = replay.Split('\n');
                var names = lines.Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
                Assert.Equal(names.Count, names.Distinct(StringComparer.Ordinal).Count());
                Assert.All(names, n => Assert.Contains($"live/{id}/{rendition}/{n}", keys));
                Assert.All(notUploaded, n => Assert.Contains(n, names));
                Assert.Contains("#EXT-X-MEDIA-SEQUENCE:0", lines);
                if (ladder.Length == 0)
                {
                    // CMAF: the restarted packager continued the numbering, so the media sequence runs on without a gap.
                    Assert.Equal(Enumerable.Range(0, names.Count).Select(i => $"c{i:D6}.m4s"), names);
                    Assert.Equal(2, lines.Count(l => l.StartsWith("#EXT-X-MAP:", StringComparison.Ordinal)));
                }

                Assert.Single(lines, l => l == "#EXT-X-DISCONTINUITY");
                var cut = Array.IndexOf(lines, "#EXT-X-DISCONTINUITY");
                var beforeCut = Seconds(lines[..cut]);
                var afterCut = Seconds(lines[cut..]);
                // Lost at the kill: at most the segment being packaged (and what ffmpeg still buffered).
                Assert.InRange(beforeCut, firstSeconds - 8, firstSeconds + 1);
                Assert.InRange(afterCut, secondSeconds - 3, secondSeconds + 1);

                // The replay plays: ffmpeg decodes it end to end through Pasar's route (presigned redirects).
                var session = await seller.SessionAsync(id);
                var replayUrl = new Uri(server.BaseAddress, session.GetProperty("replayUrl").GetString()).ToString();
                var (decoded, log) = await Ffmpeg.RunAsync("ffmpeg", ["-v", "error", "-i", replayUrl, "-map", "0:v:0", "-f", "null", "-"], TimeSpan.FromSeconds(180));
                Assert.True(decoded == 0, log);
                var probe = await Ffmpeg.ProbeAsync(replayUrl);
                var total = double.Parse(probe.GetProperty("format").GetProperty("duration").GetString()!, CultureInfo.InvariantCulture);
                // The published time minus the time the node was down.
                Assert.InRange(total, firstSeconds + secondSeconds - 11, firstSeconds + secondSeconds + 2);
                Assert.True(down < TimeSpan.FromMinutes(5));
            }
        }
        finally
        {
            await swift.StartProxyAsync();
            try
            {
                Directory.Delete(dataDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    [Fact]
    public async Task A_passthrough_show_killed_and_then_ended_without_its_publisher_keeps_what_came_before_the_kill_in_its_replay()
    {
        var swift = await fixture.ServerAsync();
        var bucket = "ended" + Guid.NewGuid().ToString("N")[..10];
        var dataDir = Path.Combine(Path.GetTempPath(), "pasar-upload-crash-" + Guid.NewGuid().ToString("N")[..8]);
        var settings = await PasarApp.SettingsForAsync(Backend.Embedded, dataDir);
        SwiftTesting.Configure(settings, swift, bucket);
        settings["Pasar:Live:Ladder"] = "";
        settings["Pasar:Live:ReconnectGraceSeconds"] = "300";
        var rtmpPort = LocalServers.FreePort();
        settings["Pasar:Rtmp:Port"] = rtmpPort.ToString(CultureInfo.InvariantCulture);
        var port = LocalServers.FreePort();
        using var s3 = SwiftTesting.Client(swift);
        try
        {
            string id;
            double published;
            await using (var server = await ServerProcess.StartAsync(settings, port))
            {
                using var seller = server.NewClient(await server.TokenAsync("seller-crash", "seller"));
                var created = await (await seller.PostAsJsonAsync("/api/live/sessions", new { title = "Crash show" }, Ct)).JsonAsync();
                id = created.GetProperty("id").GetString()!;
                var clock = Stopwatch.StartNew();
                await using var publisher = Ffmpeg.Publish(rtmpPort, created.GetProperty("streamKey").GetString()!, seconds: 120, size: "640x360");
                var dir = Path.Combine(dataDir, "hls", id, "source");
                await WithOutputAsync(server, () => PasarApp.EventuallyAsync(() => Task.FromResult(Segments(dir).Count >= 5), TimeSpan.FromSeconds(90), "five segments"));
                server.Kill();
                published = clock.Elapsed.TotalSeconds;
            }

            await using (var server = await ServerProcess.StartAsync(settings, port))
            {
                // The publisher never comes back: the seller ends the show, and the replay is what was recorded before the kill.
                using var seller = server.NewClient(await server.TokenAsync("seller-crash", "seller"));
                Assert.Equal(HttpStatusCode.OK, (await seller.PostAsync($"/api/live/sessions/{id}/end", null, Ct)).StatusCode);
                await using var db = PasarApp.DatabaseFor(settings);
                await PasarApp.EventuallyAsync(async () =>
                {
                    await using var c = await db.OpenAsync(Ct);
                    return await c.ExecuteScalarAsync<long?>("SELECT replay_stored_at FROM live_sessions WHERE id = @id", new { id }) is not null;
                }, TimeSpan.FromSeconds(120), "the replay stored");
                var lines = (await GetTextAsync(s3, bucket, $"live/{id}/source/replay.m3u8")).Split('\n');
                var names = lines.Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
                Assert.True(names.Count >= 5, string.Join('\n', lines));
                Assert.Equal(Enumerable.Range(0, names.Count).Select(i => $"c{i:D6}.m4s"), names);
                Assert.DoesNotContain("#EXT-X-DISCONTINUITY", lines);
                var keys = await KeysAsync(s3, bucket, $"live/{id}/");
                Assert.All(names, n => Assert.Contains($"live/{id}/source/{n}", keys));
                Assert.InRange(Seconds(lines), published - 8, published + 1);
                var replayUrl = new Uri(server.BaseAddress, (await seller.SessionAsync(id)).GetProperty("replayUrl").GetString()).ToString();
                var (decoded, log) = await Ffmpeg.RunAsync("ffmpeg", ["-v", "error", "-i", replayUrl, "-map", "0:v:0", "-f", "null", "-"], TimeSpan.FromSeconds(180));
                Assert.True(decoded == 0, log);
            }
        }
        finally
        {
            try
            {
                Directory.Delete(dataDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    /// <summary>A failed wait says what the server process printed.</summary>
    private static async Task WithOutputAsync(ServerProcess server, Func<Task> wait)
    {
        try
        {
            await wait();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            var output = server.Output;
            throw new Xunit.Sdk.XunitException($"{ex.Message}\nServer output:\n{output[Math.Max(0, output.Length - 8000)..]}");
        }
    }

    /// <summary>
    /// The completed segments of a rendition on the node's disk: for ffmpeg's MPEG-TS, those its recording lists (the
    /// file being written is on disk too, and a kill loses it); for CMAF, every segment file (each is renamed into place whole).
    /// </summary>
    private static HashSet<string> Segments(string dir)
    {
        var recording = Path.Combine(dir, "recording.m3u8");
        if (File.Exists(recording))
        {
            return [.. File.ReadLines(recording).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'))];
        }

        return Directory.Exists(dir)
            ? [.. Directory.EnumerateFiles(dir).Select(f => Path.GetFileName(f)).Where(f => f.EndsWith(".m4s", StringComparison.Ordinal) && f.Length == 11)]
            : [];
    }

    private static double Seconds(IEnumerable<string> lines) =>
        lines.Where(l => l.StartsWith("#EXTINF:", StringComparison.Ordinal)).Sum(l => double.Parse(l[8..l.IndexOf(',', StringComparison.Ordinal)], CultureInfo.InvariantCulture));

    internal static async Task<HashSet<string>> KeysAsync(AmazonS3Client s3, string bucket, string prefix)
    {
        var keys = new HashSet<string>(StringComparer.Ordinal);
        var list = new ListObjectsV2Request { BucketName = bucket, Prefix = prefix };
        ListObjectsV2Response page;
        do
        {
            try
            {
                page = await s3.ListObjectsV2Async(list, Ct);
            }
            catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
            {
                return keys; // the bucket is made by the first upload
            }

            foreach (var o in page.S3Objects ?? [])
            {
                keys.Add(o.Key);
            }

            list.ContinuationToken = page.NextContinuationToken;
        }
        while (page.IsTruncated == true);
        return keys;
    }

    internal static async Task<string> GetTextAsync(AmazonS3Client s3, string bucket, string key)
    {
        using var response = await s3.GetObjectAsync(bucket, key, Ct);
        using var reader = new StreamReader(response.ResponseStream);
        return await reader.ReadToEndAsync(Ct);
    }
}
