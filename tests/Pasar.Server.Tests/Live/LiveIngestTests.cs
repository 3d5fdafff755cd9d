using System.Diagnostics;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Pasar.Server.Live;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.Live;

/// <summary>Real ffmpeg publishers against the session lifecycle: refusals, reconnect grace, takeover, ffmpeg crashes.</summary>
[Collection(FfmpegCollection.Name)]
public sealed class LiveIngestTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Wrong_ended_and_rotated_away_keys_are_refused_and_nothing_is_written(Backend backend)
    {
        Ffmpeg.Require("ffmpeg");
        await using var app = await LiveApp.StartAsync(backend);
        using var seller = await app.ClientAsAsync("seller-keys", "seller");
        var (rotatedId, oldKey) = await seller.CreateSessionAsync("Rotated");
        var rotate = await seller.PostAsync($"/api/live/sessions/{rotatedId}/stream-key/rotate", null, Ct);
        Assert.Equal(HttpStatusCode.OK, rotate.StatusCode);
        var newKey = (await rotate.JsonAsync()).GetProperty("streamKey").GetString();
        Assert.NotEqual(oldKey, newKey);

        var (endedId, endedKey) = await seller.CreateSessionAsync("Ended before it started");
        Assert.Equal(HttpStatusCode.OK, (await seller.PostAsync($"/api/live/sessions/{endedId}/end", null, Ct)).StatusCode);

        foreach (var (key, message) in new[]
        {
            ("not-a-key-" + Guid.NewGuid().ToString("N"), "Unknown stream key"),
            (oldKey, "Unknown stream key"),
            (endedKey, "has ended"),
        })
        {
            await using var publisher = Ffmpeg.Publish(app.RtmpPort(), key, seconds: 3, size: "320x240");
            var (exit, output) = await publisher.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.NotEqual(0, exit);
            Assert.Contains(message, output, StringComparison.Ordinal);
        }

        Assert.Equal("created", await app.Client.StatusAsync(rotatedId));
        Assert.Equal("ended", await app.Client.StatusAsync(endedId));
        Assert.False(Directory.Exists(app.HlsRoot()) && Directory.EnumerateFileSystemEntries(app.HlsRoot()).Any(), "no HLS output for refused publishers");
        Assert.Equal(0L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM outbox WHERE type = 'LiveStarted'"));
    }

    [Fact]
    public async Task A_publisher_that_reconnects_within_the_grace_continues_the_session_and_one_that_stays_away_ends_it()
    {
        await using var app = await LiveApp.StartAsync(Backend.Embedded, s => s["Pasar:Live:ReconnectGraceSeconds"] = "4");
        using var seller = await app.ClientAsAsync("seller-grace", "seller");
        var (id, key) = await seller.CreateSessionAsync();

        await using (var first = Ffmpeg.Publish(app.RtmpPort(), key, seconds: 30))
        {
            await PasarApp.EventuallyAsync(() => Task.FromResult(app.Recorded(id).Count >= 2), TimeSpan.FromSeconds(20), "two segments from the first publisher");
            first.Kill();
        }

        await Task.Delay(1500, Ct);
        Assert.Equal("live", await app.Client.StatusAsync(id));
        var before = app.Recorded(id).Count;

        await using (var second = Ffmpeg.Publish(app.RtmpPort(), key, seconds: 30))
        {
            await PasarApp.EventuallyAsync(() => Task.FromResult(app.Recorded(id).Count >= before + 2), TimeSpan.FromSeconds(20), "segments from the reconnected publisher");
            Assert.Equal("live", await app.Client.StatusAsync(id));
            second.Kill();
        }

        var recorded = app.Recorded(id);
        Assert.Contains(recorded, s => s.Discontinuity && s.Run > 1);
        var live = await app.Client.GetStringAsync($"/hls/{id}/source/index.m3u8", Ct);
        Assert.Contains("#EXT-X-DISCONTINUITY", live, StringComparison.Ordinal);

        // Now it stays away longer than the 4 s grace.
        await PasarApp.EventuallyAsync(async () => await app.Client.StatusAsync(id) == "ended", TimeSpan.FromSeconds(15), "the session to end after the grace");

        // The status ends first (so the key is refused at once); replayUrl appears when the last segments are in.
        await PasarApp.EventuallyAsync(async () => (await app.Client.SessionAsync(id)).GetProperty("replayUrl").ValueKind == System.Text.Json.JsonValueKind.String,
            TimeSpan.FromSeconds(15), "the replay");
        var session = await app.Client.SessionAsync(id);
        var replay = await app.Client.GetStringAsync($"/hls/{id}/source/replay.m3u8", Ct);
        Assert.EndsWith("#EXT-X-ENDLIST\n", replay, StringComparison.Ordinal);
        Assert.Contains("#EXT-X-DISCONTINUITY", replay, StringComparison.Ordinal);
        Assert.Equal($"/hls/{id}/replay.m3u8", session.GetProperty("replayUrl").GetString());
        Assert.Equal(1L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM outbox WHERE type = 'LiveStarted'"));

        // The key of an ended session no longer publishes.
        await using var late = Ffmpeg.Publish(app.RtmpPort(), key, seconds: 2, size: "320x240");
        Assert.NotEqual(0, (await late.WaitAsync(TimeSpan.FromSeconds(30))).ExitCode);
    }

    [Fact]
    public async Task A_replay_whose_write_failed_while_ending_is_written_after_a_restart_and_the_slot_is_released()
    {
        var app = await LiveApp.StartAsync(Backend.Embedded, s => s["Pasar:Live:Ladder"] = "360p30");
        string id;
        string replayPath;
        try
        {
            using var seller = await app.ClientAsAsync("seller-ending", "seller");
            (id, var key) = await seller.CreateSessionAsync();
            await using var publisher = Ffmpeg.Publish(app.RtmpPort(), key, seconds: 60, size: "640x480");
            await PasarApp.EventuallyAsync(() => Task.FromResult(app.Recorded(id).Count >= 2), TimeSpan.FromSeconds(30), "two segments");
            var capacity = app.Services.GetRequiredService<TranscodeCapacity>();
            Assert.Equal(1, capacity.InUse); // the 360p rung of a 480p source takes a transcoding slot

            // The fault: the replay's master playlist cannot be written (a folder stands where the file goes).
            replayPath = Path.Combine(app.SessionDirectory(id), HlsPackager.ReplayFile);
            Directory.CreateDirectory(replayPath);
            using var end = await seller.PostAsync($"/api/live/sessions/{id}/end", null, Ct);
            Assert.Equal(HttpStatusCode.OK, end.StatusCode);

            var session = await app.Client.SessionAsync(id);
            Assert.Equal("ended", session.GetProperty("status").GetString());
            Assert.Equal(System.Text.Json.JsonValueKind.Null, session.GetProperty("replayUrl").ValueKind);
            Assert.Equal(1L, await app.ScalarAsync<long>("SELECT replay_pending FROM live_sessions WHERE id = @id", new { id }));
            // Ending failed half way, yet the slot is free and the broadcast is gone.
            Assert.Equal(0, capacity.InUse);
            Assert.Null(app.Ingest().Packager(id));
            Assert.False(app.Ingest().IsPublishing(id));
            app.KeepDataOnDispose = true;
        }
        finally
        {
            await app.DisposeAsync();
        }

        Directory.Delete(replayPath); // the fault is gone (the disk was fixed) by the time the server starts again
        await using var restarted = await PasarApp.StartAsync(Backend.Embedded, shareSettings: new(app.Settings), restart: true);
        await PasarApp.EventuallyAsync(async () => (await restarted.Client.SessionAsync(id)).GetProperty("replayUrl").ValueKind == System.Text.Json.JsonValueKind.String,
            TimeSpan.FromSeconds(15), "the owed replay after the restart");
        var replay = await restarted.Client.GetStringAsync($"/hls/{id}/source/replay.m3u8", Ct);
        Assert.EndsWith("#EXT-X-ENDLIST\n", replay, StringComparison.Ordinal);
        Assert.Contains(".m4s", replay, StringComparison.Ordinal); // the rung's too: both renditions are packaged in-process
        Assert.Contains("360p30/replay.m3u8", await restarted.Client.GetStringAsync($"/hls/{id}/replay.m3u8", Ct), StringComparison.Ordinal);
        Assert.Equal(0L, await restarted.ScalarAsync<long>("SELECT replay_pending FROM live_sessions WHERE id = @id", new { id }));
    }

    [Fact]
    public async Task A_second_publisher_on_a_live_key_takes_over_and_the_first_is_disconnected()
    {
        await using var app = await LiveApp.StartAsync(Backend.Embedded);
        using var seller = await app.ClientAsAsync("seller-takeover", "seller");
        var (id, key) = await seller.CreateSessionAsync();
        await using var first = Ffmpeg.Publish(app.RtmpPort(), key, seconds: 30);
        await PasarApp.EventuallyAsync(() => Task.FromResult(app.Recorded(id).Count >= 1), TimeSpan.FromSeconds(20), "a segment from the first publisher");

        await using var second = Ffmpeg.Publish(app.RtmpPort(), key, seconds: 30);
        var (exit, _) = await first.WaitAsync(TimeSpan.FromSeconds(15));
        Assert.NotEqual(0, exit); // the server closed it
        var before = app.Recorded(id).Count;
        await PasarApp.EventuallyAsync(() => Task.FromResult(app.Recorded(id).Count >= before + 2), TimeSpan.FromSeconds(20), "segments from the second publisher");
        Assert.False(second.HasExited);
        Assert.Equal("live", await app.Client.StatusAsync(id));
    }

    [Fact]
    public async Task Killing_ffmpeg_mid_stream_restarts_it_and_the_playlist_keeps_growing()
    {
        // About ffmpeg's supervision: pinned to the MPEG-TS path, since a passthrough-only session runs no ffmpeg
        // when the in-process LL-HLS packager is on (LowLatencyHlsTests covers that).
        await using var app = await LiveApp.StartAsync(Backend.Embedded, s => s["Pasar:Live:LowLatencyPassthrough"] = "false");
        using var seller = await app.ClientAsAsync("seller-crash", "seller");
        var (id, key) = await seller.CreateSessionAsync();
        await using var publisher = Ffmpeg.Publish(app.RtmpPort(), key, seconds: 30);
        await PasarApp.EventuallyAsync(() => Task.FromResult(app.Recorded(id).Count >= 2), TimeSpan.FromSeconds(20), "two segments");

        var pid = app.Ingest().TranscoderProcessId(id);
        Assert.NotNull(pid);
        using (var transcoder = Process.GetProcessById(pid.Value))
        {
            transcoder.Kill();
            await transcoder.WaitForExitAsync(Ct);
        }

        var before = app.Recorded(id).Count;
        await PasarApp.EventuallyAsync(() => Task.FromResult(app.Recorded(id).Count >= before + 3), TimeSpan.FromSeconds(20), "the playlist to keep growing");
        Assert.NotEqual(pid, app.Ingest().TranscoderProcessId(id));
        Assert.Contains(app.Recorded(id), s => s.Run == 2 && s.Discontinuity);
        var live = await app.Client.SegmentsAsync($"/hls/{id}/source/index.m3u8");
        Assert.Contains(live, s => s.StartsWith("r002_", StringComparison.Ordinal));
        Assert.False(publisher.HasExited, "the publisher never noticed");
        Assert.Equal("live", await app.Client.StatusAsync(id));
    }
}
