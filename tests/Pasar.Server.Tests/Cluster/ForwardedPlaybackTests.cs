using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json;
using Pasar.Server.Tests.Infrastructure;
using Pasar.Server.Tests.Live;
using Pasar.Server.Tests.Live.Storage;
using Pasar.Testing;

namespace Pasar.Server.Tests.Cluster;

/// <summary>
/// Any node serves any live show (SPEC §12, ADR 0025): two nodes on one PostgreSQL, Redis and Swift; real ffmpeg
/// publishes into node A and node B serves the show by forwarding to A, found through the ingest registry.
/// </summary>
[Collection(FfmpegCollection.Name)]
public sealed class ForwardedPlaybackTests(SwiftFixture fixture) : IClassFixture<SwiftFixture>
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static void LowLatency(Dictionary<string, string?> s)
    {
        s["Pasar:Live:Ladder"] = "";
        s["Pasar:Live:LowLatencyPassthrough"] = "true";
        s["Pasar:Live:ReconnectGraceSeconds"] = "30";
    }

    [Fact]
    public async Task A_show_published_into_node_A_plays_through_node_B_with_blocking_reloads_shared_upstream()
    {
        Ffmpeg.Require("ffmpeg");
        var swift = await fixture.ServerAsync();
        var bucket = "fwd" + Guid.NewGuid().ToString("N")[..10];
        await using var nodeA = await PasarApp.StartAsync(Backend.Scaled, s =>
        {
            LowLatency(s);
            SwiftTesting.Configure(s, swift, bucket);
        });
        await using var nodeB = await PasarApp.StartAsync(Backend.Scaled, shareSettings: new(nodeA.Settings));
        using var seller = await nodeA.ClientAsAsync("seller-fwd", "seller");
        var (id, key) = await seller.CreateSessionAsync("Forwarded show");
        var a = nodeA.Client;
        var b = nodeB.Client;
        await using (var publisher = Ffmpeg.Publish(nodeA.RtmpPort(), key, seconds: 40))
        {
            await PasarApp.EventuallyAsync(async () => (await b.GetAsync($"/hls/{id}/master.m3u8", Ct)).StatusCode == HttpStatusCode.OK,
                TimeSpan.FromSeconds(30), "node B to serve the master playlist of a show published into node A");
            Assert.True(nodeA.IsLowLatency(id));
            Assert.Null(nodeB.Ingest().Packager(id)); // B holds nothing of the show: every answer is A's

            // The same master playlist and caching headers through either node.
            using var masterA = await a.GetAsync($"/hls/{id}/master.m3u8", Ct);
            using var masterB = await b.GetAsync($"/hls/{id}/master.m3u8", Ct);
            Assert.Equal(await masterA.Content.ReadAsStringAsync(Ct), await masterB.Content.ReadAsStringAsync(Ct));
            Assert.Equal(masterA.Headers.CacheControl?.ToString(), masterB.Headers.CacheControl?.ToString());
            Assert.Equal("application/vnd.apple.mpegurl", masterB.Content.Headers.ContentType?.MediaType);

            // ffmpeg decodes the show from node B's master playlist.
            var (exit, output) = await Ffmpeg.RunAsync("ffmpeg",
                ["-v", "error", "-i", new Uri(nodeB.BaseAddress, $"/hls/{id}/master.m3u8").ToString(), "-t", "4", "-map", "0:v:0", "-f", "null", "-progress", "pipe:1", "-nostats", "-"],
                TimeSpan.FromSeconds(90));
            Assert.True(exit == 0, output);
            var frames = output.Split('\n').Where(l => l.StartsWith("frame=", StringComparison.Ordinal)).Select(l => long.Parse(l[6..].Trim(), CultureInfo.InvariantCulture)).DefaultIfEmpty(0).Max();
            Assert.True(frames >= 60, $"decoded {frames} frames through node B\n{output}");

            // A player moved between nodes: its playlist came from A, its next blocking reload goes to B.
            var fromA = await a.GetStringAsync($"/hls/{id}/source/index.m3u8", Ct);
            var (msn, part, hinted) = Hint(fromA);
            var clock = Stopwatch.StartNew();
            using var blocked = await b.GetAsync($"/hls/{id}/source/index.m3u8?_HLS_msn={msn}&_HLS_part={part}", Ct);
            clock.Stop();
            Assert.Equal(HttpStatusCode.OK, blocked.StatusCode);
            Assert.Equal("public, max-age=6", blocked.Headers.CacheControl?.ToString());
            var fromB = await blocked.Content.ReadAsStringAsync(Ct);
            Assert.True(fromB.Contains($"URI=\"{hinted}\"", StringComparison.Ordinal) || fromB.Contains($"\nc{msn:D6}.m4s\n", StringComparison.Ordinal), fromB);
            Assert.True(clock.Elapsed < TimeSpan.FromSeconds(5), $"blocked for {clock.Elapsed}");
            // One numbering on both nodes: the media sequence moves on by a segment at most, and the parts A listed
            // for the newest segments are listed under the same names by B.
            Assert.InRange(MediaSequence(fromB) - MediaSequence(fromA), 0, 1);
            var partsA = Parts(fromA);
            var partsB = Parts(fromB);
            Assert.NotEmpty(partsA);
            Assert.Contains(partsA[^1], partsB);

            // The part itself, identical bytes and immutable through either node; a second fetch on B comes from its cache.
            using var partA = await a.GetAsync($"/hls/{id}/source/{hinted}", Ct);
            using var partB = await b.GetAsync($"/hls/{id}/source/{hinted}", Ct);
            Assert.Equal(HttpStatusCode.OK, partB.StatusCode);
            Assert.Equal("public, max-age=31536000, immutable", partB.Headers.CacheControl?.ToString());
            Assert.Equal("video/mp4", partB.Content.Headers.ContentType?.MediaType);
            Assert.Equal(await partA.Content.ReadAsByteArrayAsync(Ct), await partB.Content.ReadAsByteArrayAsync(Ct));
            var cachedBefore = await MetricSumAsync(b, "pasar_live_hls_forwarded_requests_total", "source=\"cache\"");
            Assert.Equal(HttpStatusCode.OK, (await b.GetAsync($"/hls/{id}/source/{hinted}", Ct)).StatusCode);
            await PasarApp.EventuallyAsync(async () => await MetricSumAsync(b, "pasar_live_hls_forwarded_requests_total", "source=\"cache\"") > cachedBefore,
                TimeSpan.FromSeconds(10), "the repeated part to be answered from node B's cache");

            // Many viewers on B blocked on the same future part: one request to A. First line up on a segment's
            // start, then ask for the start of the one after, about a segment away.
            var now = Hint(await b.GetStringAsync($"/hls/{id}/source/index.m3u8", Ct));
            Assert.Equal(HttpStatusCode.OK, (await b.GetAsync($"/hls/{id}/source/index.m3u8?_HLS_msn={now.Msn + 1}&_HLS_part=0", Ct)).StatusCode);
            var upstreamBefore = await MetricSumAsync(b, "pasar_live_hls_forward_upstream_total", "kind=\"playlist\"");
            var forwardedBefore = await MetricSumAsync(b, "pasar_live_hls_forwarded_requests_total");
            const int viewers = 50;
            using var crowd = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = viewers }) { BaseAddress = nodeB.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
            var future = $"/hls/{id}/source/index.m3u8?_HLS_msn={now.Msn + 2}&_HLS_part=0";
            var answers = await Task.WhenAll(Enumerable.Range(0, viewers).Select(async _ =>
            {
                using var response = await crowd.GetAsync(future, Ct);
                return (response.StatusCode, Body: await response.Content.ReadAsStringAsync(Ct));
            }));
            Assert.All(answers, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
            Assert.Single(answers.Select(r => r.Body).Distinct());
            Assert.Contains($"c{now.Msn + 2:D6}.0.m4s", answers[0].Body, StringComparison.Ordinal);
            await PasarApp.EventuallyAsync(async () => await MetricSumAsync(b, "pasar_live_hls_forwarded_requests_total") >= forwardedBefore + viewers,
                TimeSpan.FromSeconds(10), "node B's forwarding counter to count the crowd");
            // (B also fetches the part the answer announces once, ahead of the players: a media request, not counted here.)
            Assert.Equal(1, await MetricSumAsync(b, "pasar_live_hls_forward_upstream_total", "kind=\"playlist\"") - upstreamBefore);

            // Bad input is refused by the ingest node and the refusal passes through B unchanged.
            using var tooFar = await b.GetAsync($"/hls/{id}/source/index.m3u8?_HLS_msn={now.Msn + 100}", Ct);
            Assert.Equal(HttpStatusCode.BadRequest, tooFar.StatusCode);
            Assert.Equal("HLS_BAD_REQUEST", (await tooFar.JsonAsync()).GetProperty("code").GetString());
            await publisher.WaitAsync(TimeSpan.FromSeconds(90));
        }

        // Ended: the registration is gone at once, and node B serves the replay from the store.
        Assert.Equal(HttpStatusCode.OK, (await seller.PostAsync($"/api/live/sessions/{id}/end", null, Ct)).StatusCode);
        await PasarApp.EventuallyAsync(async () => (await b.GetAsync($"/hls/{id}/source/replay.m3u8", Ct)).StatusCode == HttpStatusCode.OK,
            TimeSpan.FromSeconds(90), "node B to serve the replay from the store");
    }

    [Fact]
    public async Task When_the_ingest_node_dies_its_registration_expires_and_the_other_node_answers_at_once_not_hangs()
    {
        Ffmpeg.Require("ffmpeg");
        var settings = await PasarApp.SettingsForAsync(Backend.Scaled, Path.Combine(Path.GetTempPath(), "pasar-fwd-" + Guid.NewGuid().ToString("N")[..8]));
        LowLatency(settings);
        settings["Pasar:Rtmp:Port"] = LocalServers.FreePort().ToString(CultureInfo.InvariantCulture);
        string id;
        // Node B shares the database and Redis, not node A's RTMP port.
        await using var nodeB = await PasarApp.StartAsync(Backend.Scaled, s => s["Pasar:Rtmp:Port"] = "0", shareSettings: settings);
        await using (var nodeA = await ServerProcess.StartAsync(settings, LocalServers.FreePort()))
        {
            using var seller = nodeA.NewClient(await nodeA.TokenAsync("seller-dies", "seller"));
            string key;
            (id, key) = await seller.CreateSessionAsync("Show on a node that dies");
            await using var publisher = Ffmpeg.Publish(int.Parse(settings["Pasar:Rtmp:Port"]!, CultureInfo.InvariantCulture), key, seconds: 60);
            await PasarApp.EventuallyAsync(async () => (await nodeB.Client.GetAsync($"/hls/{id}/source/index.m3u8", Ct)).StatusCode == HttpStatusCode.OK,
                TimeSpan.FromSeconds(60), "node B to serve the live playlist of node A's show");
            nodeA.Kill(); // no clean shutdown: the registration stays until it expires
        }

        // Every answer comes quickly: 502 while the dead node is still registered, then 404 once the entry expired.
        using var viewer = new HttpClient { BaseAddress = nodeB.BaseAddress, Timeout = TimeSpan.FromSeconds(20) };
        var seen = new List<string>();
        await PasarApp.EventuallyAsync(async () =>
        {
            using var response = await viewer.GetAsync($"/hls/{id}/source/index.m3u8?_HLS_msn=1000000", Ct);
            var code = response.StatusCode == HttpStatusCode.OK ? "" : (await response.JsonAsync()).GetProperty("code").GetString();
            seen.Add($"{(int)response.StatusCode} {code}");
            return response.StatusCode == HttpStatusCode.NotFound;
        }, TimeSpan.FromSeconds(60), "node B to stop naming the dead node");
        Assert.All(seen, s => Assert.Contains(s, new[] { "502 HLS_INGEST_UNREACHABLE", "404 HLS_NOT_FOUND", "400 HLS_BAD_REQUEST" }));
        Assert.Equal("404 HLS_NOT_FOUND", seen[^1]);
    }

    /// <summary>The preload hint of a media playlist: the part a player asks for next.</summary>
    private static (long Msn, int Part, string Uri) Hint(string playlist)
    {
        var hint = playlist.Split('\n').Single(l => l.StartsWith("#EXT-X-PRELOAD-HINT", StringComparison.Ordinal));
        var uri = hint[(hint.IndexOf("URI=\"", StringComparison.Ordinal) + 5)..].TrimEnd('"');
        return (long.Parse(uri.AsSpan(1, 6), CultureInfo.InvariantCulture), int.Parse(uri.AsSpan(8, uri.Length - 12), CultureInfo.InvariantCulture), uri);
    }

    private static long MediaSequence(string playlist) =>
        long.Parse(playlist.Split('\n').Single(l => l.StartsWith("#EXT-X-MEDIA-SEQUENCE:", StringComparison.Ordinal))[22..], CultureInfo.InvariantCulture);

    private static List<string> Parts(string playlist) =>
        playlist.Split('\n').Where(l => l.StartsWith("#EXT-X-PART:", StringComparison.Ordinal))
            .Select(l => l[(l.IndexOf("URI=\"", StringComparison.Ordinal) + 5)..].Split('"')[0]).ToList();

    /// <summary>The sum over every label set of a Prometheus counter in /metrics whose labels contain <paramref name="label"/>.</summary>
    internal static async Task<double> MetricSumAsync(HttpClient client, string name, string label = "")
    {
        var text = await client.GetStringAsync("/metrics", Ct);
        return text.Split('\n')
            .Where(l => (l.StartsWith(name + "{", StringComparison.Ordinal) || l.StartsWith(name + " ", StringComparison.Ordinal)) && l.Contains(label, StringComparison.Ordinal))
            .Sum(l => double.Parse((l.Contains('}') ? l[(l.IndexOf('}') + 1)..] : l[name.Length..]).Trim().Split(' ')[0], CultureInfo.InvariantCulture));
    }
}
