using System.Net;
using System.Text.Json;
using Amazon.S3.Model;
using Pasar.Server.Tests.Infrastructure;
using Pasar.Testing;

namespace Pasar.Server.Tests.Live.Storage;

/// <summary>One real Swift (with its S3 layer) for the recording-storage tests of a run.</summary>
public sealed class SwiftFixture : IAsyncLifetime
{
    private Task<SwiftServer>? _start;

    public Task<SwiftServer> ServerAsync() => _start ??= SwiftTesting.StartOrSkipAsync();

    public ValueTask InitializeAsync() => ValueTask.CompletedTask;

    public async ValueTask DisposeAsync()
    {
        if (_start is { IsCompletedSuccessfully: true })
        {
            await (await _start).DisposeAsync();
        }
    }
}

[Collection(FfmpegCollection.Name)]
public sealed partial class RecordingStorageTests(SwiftFixture fixture) : IClassFixture<SwiftFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_wrong_secret_key_is_a_readyz_error_naming_the_setting()
    {
        var swift = await fixture.ServerAsync();
        await using var app = await LiveApp.StartAsync(Backend.Embedded, s => SwiftTesting.Configure(s, swift, "wrong-secret", secret: "not-the-secret"));
        JsonElement storage = default;
        await PasarApp.EventuallyAsync(async () =>
        {
            // Unhealthy answers 503 with the same JSON body.
            using var response = await app.Client.GetAsync("/readyz", Ct);
            var body = JsonDocument.Parse(await response.Content.ReadAsStringAsync(Ct)).RootElement;
            storage = body.GetProperty("checks").GetProperty("storage");
            return storage.GetProperty("status").GetString() == "Unhealthy";
        }, TimeSpan.FromSeconds(30), "readyz to report the refused secret");
        Assert.Contains("Pasar:Storage:S3:SecretKey", storage.GetProperty("description").GetString());
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_show_with_a_store_outage_uploads_every_segment_and_the_replay_plays_from_the_store_with_no_segment_left_on_disk(Backend backend)
    {
        var swift = await fixture.ServerAsync();
        var bucket = "rec" + Guid.NewGuid().ToString("N")[..10];
        await using var app = await LiveApp.StartAsync(backend, s =>
        {
            SwiftTesting.Configure(s, swift, bucket);
            s["Pasar:Live:Ladder"] = "360p30";
        });
        using var seller = await app.ClientAsAsync("seller-rec", "seller");
        var (id, key) = await seller.CreateSessionAsync("Stored show");
        await using (var publisher = Ffmpeg.Publish(app.RtmpPort(), key, seconds: 16, size: "640x480"))
        {
            await PasarApp.EventuallyAsync(async () => (await app.Client.GetAsync($"/hls/{id}/master.m3u8", Ct)).StatusCode == HttpStatusCode.OK,
                TimeSpan.FromSeconds(30), "a master playlist while publishing");
            await swift.StopProxyAsync();
            await Task.Delay(TimeSpan.FromSeconds(6), Ct);
            await swift.StartProxyAsync();
            await publisher.WaitAsync(TimeSpan.FromSeconds(60));
        }

        Assert.Equal(HttpStatusCode.OK, (await seller.PostAsync($"/api/live/sessions/{id}/end", null, Ct)).StatusCode);
        await PasarApp.EventuallyAsync(async () => await app.ScalarAsync<string?>("SELECT upload_state FROM live_sessions WHERE id = @id", new { id }) == "stored",
            TimeSpan.FromSeconds(90), "the recording to be stored");

        using var s3 = SwiftTesting.Client(swift);
        var keys = new HashSet<string>(StringComparer.Ordinal);
        var list = new ListObjectsV2Request { BucketName = bucket, Prefix = $"live/{id}/" };
        ListObjectsV2Response page;
        do
        {
            page = await s3.ListObjectsV2Async(list, Ct);
            foreach (var o in page.S3Objects ?? [])
            {
                keys.Add(o.Key);
            }

            list.ContinuationToken = page.NextContinuationToken;
        }
        while (page.IsTruncated == true);

        Assert.Contains($"live/{id}/replay.m3u8", keys);
        var dir = app.SessionDirectory(id);
        foreach (var rendition in new[] { "source", "360p30" })
        {
            // The rendition's own recording (both renditions are packaged in-process: the CMAF packager's).
            var recorded = File.ReadLines(Path.Combine(dir, rendition, "recording-cmaf.m3u8")).Where(l => l.Length > 0 && !l.StartsWith('#')).ToList();
            Assert.NotEmpty(recorded);
            Assert.All(recorded, f => Assert.Contains($"live/{id}/{rendition}/{f}", keys));
            var replay = await app.Client.GetStringAsync($"/hls/{id}/{rendition}/replay.m3u8", Ct);
            var lines = replay.Split('\n');
            // Every recorded segment, in order, from media sequence 0: no gap.
            Assert.Equal(recorded, lines.Where(l => l.Length > 0 && !l.StartsWith('#')).ToList());
            Assert.Contains("#EXT-X-MEDIA-SEQUENCE:0", lines);
            var seconds = lines.Where(l => l.StartsWith("#EXTINF:", StringComparison.Ordinal))
                .Sum(l => double.Parse(l[8..l.IndexOf(',', StringComparison.Ordinal)], System.Globalization.CultureInfo.InvariantCulture));
            Assert.InRange(seconds, 13, 18);
        }

        // The data folder holds no segment of the show any more.
        Assert.DoesNotContain(Directory.EnumerateFiles(dir, "*", SearchOption.AllDirectories),
            f => f.EndsWith(".ts", StringComparison.Ordinal) || f.EndsWith(".m4s", StringComparison.Ordinal) || f.EndsWith(".mp4", StringComparison.Ordinal));

        // A segment request is redirected to a presigned URL of the store, and ffmpeg decodes the whole replay through it.
        var session = await app.Client.SessionAsync(id);
        var replayUrl = new Uri(app.BaseAddress, session.GetProperty("replayUrl").GetString()).ToString();
        var (exit, output) = await Ffmpeg.RunAsync("ffmpeg", ["-v", "error", "-i", replayUrl, "-map", "0:v:0", "-f", "null", "-"], TimeSpan.FromSeconds(120));
        Assert.True(exit == 0, output);
        var probe = await Ffmpeg.ProbeAsync(replayUrl);
        Assert.InRange(double.Parse(probe.GetProperty("format").GetProperty("duration").GetString()!, System.Globalization.CultureInfo.InvariantCulture), 13, 18);
    }
}
