using System.Globalization;
using System.Net;
using Dapper;
using Pasar.Server.Tests.Infrastructure;
using Pasar.Testing;

namespace Pasar.Server.Tests.Live.Storage;

/// <summary>Replays that reach the store late: a show ended during an outage, and replays recorded before the store was configured.</summary>
public sealed partial class RecordingStorageTests
{
    [Fact]
    public async Task A_show_ended_while_the_store_is_down_completes_its_upload_when_it_returns_and_the_replay_plays_from_the_store()
    {
        var swift = await fixture.ServerAsync();
        var bucket = "late" + Guid.NewGuid().ToString("N")[..10];
        await using var app = await LiveApp.StartAsync(Backend.Embedded, s =>
        {
            SwiftTesting.Configure(s, swift, bucket);
            s["Pasar:Live:Ladder"] = "";
        });
        using var seller = await app.ClientAsAsync("seller-late", "seller");
        var (id, key) = await seller.CreateSessionAsync("Ended in an outage");
        await using (var publisher = Ffmpeg.Publish(app.RtmpPort(), key, seconds: 8, size: "640x480"))
        {
            var (exit, output) = await publisher.WaitAsync(TimeSpan.FromSeconds(60));
            Assert.True(exit == 0, output);
        }

        await swift.StopProxyAsync();
        try
        {
            Assert.Equal(HttpStatusCode.OK, (await seller.PostAsync($"/api/live/sessions/{id}/end", null, Ct)).StatusCode);
            await PasarApp.EventuallyAsync(() => Task.FromResult(File.Exists(Path.Combine(app.SessionDirectory(id), "replay.m3u8"))),
                TimeSpan.FromSeconds(30), "the replay written on disk");
            // The store cannot have it yet: the upload is owed, not given up.
            Assert.Null(await app.ScalarAsync<long?>("SELECT replay_stored_at FROM live_sessions WHERE id = @id", new { id }));
            Assert.Equal("uploading", await app.ScalarAsync<string?>("SELECT upload_state FROM live_sessions WHERE id = @id", new { id }));
        }
        finally
        {
            await swift.StartProxyAsync();
        }

        await PasarApp.EventuallyAsync(async () => await app.ScalarAsync<long?>("SELECT replay_stored_at FROM live_sessions WHERE id = @id", new { id }) is not null,
            TimeSpan.FromSeconds(120), "the replay stored once the store is back");
        using var s3 = SwiftTesting.Client(swift);
        var keys = await KeysAsync(s3, bucket, $"live/{id}/");
        Assert.Contains($"live/{id}/replay.m3u8", keys);
        var names = MediaOf(await GetTextAsync(s3, bucket, $"live/{id}/source/replay.m3u8"));
        Assert.NotEmpty(names);
        Assert.All(names, n => Assert.Contains($"live/{id}/source/{n}", keys));
        Assert.DoesNotContain(Directory.EnumerateFiles(app.SessionDirectory(id), "*", SearchOption.AllDirectories),
            f => f.EndsWith(".m4s", StringComparison.Ordinal) || f.EndsWith(".mp4", StringComparison.Ordinal));

        var replayUrl = new Uri(app.BaseAddress, (await app.Client.SessionAsync(id)).GetProperty("replayUrl").GetString()).ToString();
        await AssertPlaysAsync(replayUrl, 6, 10);
    }

    [Fact]
    public async Task Storage_upload_replays_moves_local_replays_into_the_store_they_play_from_there_and_a_second_run_moves_nothing()
    {
        var swift = await fixture.ServerAsync();
        var bucket = "move" + Guid.NewGuid().ToString("N")[..10];

        // Two shows recorded before the store was configured: one packaged in-process (CMAF), one through ffmpeg's
        // MPEG-TS HLS (as every replay before LL-HLS was; the flag off gives that path today).
        var ids = new List<string>();
        Dictionary<string, string?>? settings = null;
        foreach (var ladder in new[] { "", "360p30" })
        {
            void Configure(Dictionary<string, string?> s)
            {
                s["Pasar:Live:Ladder"] = ladder;
                s["Pasar:Live:LowLatencyPassthrough"] = ladder.Length == 0 ? "true" : "false";
            }

            await using var app = settings is null
                ? await LiveApp.StartAsync(Backend.Embedded, Configure)
                : await PasarApp.StartAsync(Backend.Embedded, Configure, shareSettings: settings, restart: true);
            app.KeepDataOnDispose = true;
            settings ??= new(app.Settings);
            using var seller = await app.ClientAsAsync("seller-move", "seller");
            var (id, key) = await seller.CreateSessionAsync("Recorded on disk");
            await using (var publisher = Ffmpeg.Publish(app.RtmpPort(), key, seconds: 6, size: "640x480"))
            {
                var (exit, output) = await publisher.WaitAsync(TimeSpan.FromSeconds(60));
                Assert.True(exit == 0, output);
            }

            Assert.Equal(HttpStatusCode.OK, (await seller.PostAsync($"/api/live/sessions/{id}/end", null, Ct)).StatusCode);
            await PasarApp.EventuallyAsync(async () => (await app.Client.SessionAsync(id)).TryGetProperty("replayUrl", out var url) && url.GetString() is not null,
                TimeSpan.FromSeconds(60), "the local replay");
            ids.Add(id);
        }

        var dataDir = settings!["Pasar:DataDir"]!;
        await using var db = PasarApp.DatabaseFor(settings);
        try
        {
            // A refused secret: a clear error naming the setting, a non-zero exit, and nothing changed.
            var wrong = new Dictionary<string, string?>(settings);
            SwiftTesting.Configure(wrong, swift, bucket, secret: "not-the-secret");
            var (refused, refusal) = await ServerProcess.RunCommandAsync(wrong, ["storage", "upload-replays"], TimeSpan.FromMinutes(3));
            Assert.True(refused != 0, refusal);
            Assert.Contains("Pasar:Storage:S3:SecretKey", refusal);
            foreach (var id in ids)
            {
                Assert.True(File.Exists(Path.Combine(dataDir, "hls", id, "replay.m3u8")));
                await using var c = await db.OpenAsync(Ct);
                Assert.Null(await c.ExecuteScalarAsync<long?>("SELECT replay_stored_at FROM live_sessions WHERE id = @id", new { id }));
            }

            SwiftTesting.Configure(settings, swift, bucket);
            var (exitCode, output) = await ServerProcess.RunCommandAsync(settings, ["storage", "upload-replays"], TimeSpan.FromMinutes(5));
            Assert.True(exitCode == 0, output);
            Assert.Contains("Moved 2 replays", output);
            Assert.Contains("0 already there; 0 failed", output);

            using var s3 = SwiftTesting.Client(swift);
            var renditions = new Dictionary<string, string[]> { [ids[0]] = ["source"], [ids[1]] = ["source", "360p30"] };
            foreach (var id in ids)
            {
                var keys = await KeysAsync(s3, bucket, $"live/{id}/");
                Assert.Contains($"live/{id}/replay.m3u8", keys);
                foreach (var rendition in renditions[id])
                {
                    var names = MediaOf(await GetTextAsync(s3, bucket, $"live/{id}/{rendition}/replay.m3u8"));
                    Assert.NotEmpty(names);
                    Assert.All(names, n => Assert.Contains($"live/{id}/{rendition}/{n}", keys));
                }

                // Moved, not copied: the node's disk no longer holds the replay.
                Assert.False(Directory.Exists(Path.Combine(dataDir, "hls", id)));
            }

            Assert.Contains(".ts", string.Join(' ', await KeysAsync(s3, bucket, $"live/{ids[1]}/")));

            // Run again: nothing left to move, and it says so.
            var (again, second) = await ServerProcess.RunCommandAsync(settings, ["storage", "upload-replays"], TimeSpan.FromMinutes(3));
            Assert.True(again == 0, second);
            Assert.Contains("Moved 0 replays (0 files, 0.0 MB) into the object store; 2 already there; 0 failed.", second);

            // A node with the store configured serves both replays from it, and ffmpeg decodes them end to end.
            await using var node = await PasarApp.StartAsync(Backend.Embedded, shareSettings: settings, restart: true);
            foreach (var id in ids)
            {
                var session = await node.Client.SessionAsync(id);
                Assert.Equal($"/hls/{id}/replay.m3u8", session.GetProperty("replayUrl").GetString());
                await AssertPlaysAsync(new Uri(node.BaseAddress, $"/hls/{id}/replay.m3u8").ToString(), 4, 8);
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

    private static async Task AssertPlaysAsync(string url, double minSeconds, double maxSeconds)
    {
        var (exit, output) = await Ffmpeg.RunAsync("ffmpeg", ["-v", "error", "-i", url, "-map", "0:v:0", "-f", "null", "-"], TimeSpan.FromSeconds(120));
        Assert.True(exit == 0, output);
        var probe = await Ffmpeg.ProbeAsync(url);
        Assert.InRange(double.Parse(probe.GetProperty("format").GetProperty("duration").GetString()!, CultureInfo.InvariantCulture), minSeconds, maxSeconds);
    }

    /// <summary>The segments and init segments a media playlist names (URI lines and EXT-X-MAP URIs), each once.</summary>
    private static List<string> MediaOf(string playlist) =>
        [.. playlist.Split('\n').Select(l => l.Trim())
            .Select(l => l.StartsWith("#EXT-X-MAP:URI=\"", StringComparison.Ordinal) ? l[16..l.IndexOf('"', 16)] : l.Length > 0 && !l.StartsWith('#') ? l : null)
            .OfType<string>().Distinct(StringComparer.Ordinal)];
}
