using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Amazon.Runtime;
using Amazon.S3;
using Pasar.Testing;

namespace Pasar.Bench;

/// <summary>
/// Issue 15: upload throughput and lag behind live of the recording uploads, for 1 and 3 simultaneous shows with the
/// full ladder, into a real OpenStack Swift (its S3 layer) started here by the same fixture the tests use. A segment's
/// completion is when it appears in its rendition's live playlist on the node (polled every 100 ms; the packager
/// hands it to the uploader in the same step); its arrival is the first HEAD on its key that answers 200 (polled
/// every 50 ms). Lag = arrival − completion. With <c>--outage S</c>, Swift's proxy is stopped for S seconds a quarter
/// into each row, and a second table gives how long the segments completed meanwhile took to reach the store once it
/// returned (the uploader's retry backoff included).
/// </summary>
public static class UploadScenario
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static async Task RunAsync(TimeSpan duration, IReadOnlyList<int> showCounts, string ladder, TimeSpan outage)
    {
        var source = await IngestScenario.SourceAsync();
        await using var swift = await SwiftServer.StartAsync();
        Console.WriteLine($"Pasar.Bench upload: {duration.TotalSeconds} s per row, ladder {ladder}, source {Path.GetFileName(source)} (1080p60 H.264 6 Mbit/s, 2 s GOP, AAC), " +
            $"OpenStack Swift S3 on loopback, {Environment.ProcessorCount} cores, load average at start {IngestScenario.LoadAverage()}, {IngestScenario.FfmpegVersion()}");
        Console.WriteLine();
        Console.WriteLine("| shows | renditions | segments uploaded | MB uploaded | throughput, MB/s | objects/s | lag p50, s | lag p99, s | lag max, s | not uploaded at the end |");
        Console.WriteLine("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|");
        var drains = new List<string>();
        foreach (var shows in showCounts)
        {
            var (row, drain) = await MeasureAsync(swift, source, ladder, shows, duration, outage);
            Console.WriteLine(row);
            drains.Add(drain);
        }

        if (outage > TimeSpan.Zero)
        {
            Console.WriteLine();
            Console.WriteLine($"A store outage of {outage.TotalSeconds} s (Swift's proxy stopped) a quarter into each row; lag above counts only segments that completed outside it.");
            Console.WriteLine();
            Console.WriteLine("| shows | segments completed during the outage | MB | all in the store, s after it returned | catch-up rate (retry backoff included), MB/s |");
            Console.WriteLine("|---:|---:|---:|---:|---:|");
            drains.ForEach(Console.WriteLine);
        }

        Console.WriteLine();
        Console.WriteLine($"load average at the end {IngestScenario.LoadAverage()}");
    }

    private static async Task<(string Row, string Drain)> MeasureAsync(SwiftServer swift, string source, string ladder, int shows, TimeSpan duration, TimeSpan outage)
    {
        var bucket = "bench" + Guid.NewGuid().ToString("N")[..10];
        await using var target = await BenchTarget.StartAsync("embedded", new Dictionary<string, string?>
        {
            ["Pasar:Rtmp:Port"] = LocalServers.FreePort().ToString(Inv),
            ["Pasar:Live:Ladder"] = ladder,
            ["Pasar:Live:MaxTranscodedSessions"] = "1000", // measure the machine, not the admission limit
            ["Pasar:Storage:S3:ServiceUrl"] = swift.ServiceUrl,
            ["Pasar:Storage:S3:Bucket"] = bucket,
            ["Pasar:Storage:S3:AccessKey"] = SwiftServer.AccessKey,
            ["Pasar:Storage:S3:SecretKey"] = SwiftServer.SecretKey,
        });
        using var seller = target.Server.NewClient(await target.Server.TokenAsync("bench-seller", "seller"));
        var sessions = new List<(string Id, string Url)>();
        for (var i = 0; i < shows; i++)
        {
            var created = await (await seller.PostAsJsonAsync("/api/live/sessions", new { title = $"upload bench {i}" })).Content.ReadFromJsonAsync<JsonElement>();
            var rtmp = new Uri(created.GetProperty("rtmpUrl").GetString()!);
            sessions.Add((created.GetProperty("id").GetString()!, $"rtmp://127.0.0.1:{rtmp.Port}/live/{created.GetProperty("streamKey").GetString()}"));
        }

        var renditions = new[] { "source" }.Concat(ladder.Split(',', StringSplitOptions.RemoveEmptyEntries)).ToArray();
        using var s3 = new AmazonS3Client(SwiftServer.AccessKey, SwiftServer.SecretKey, new AmazonS3Config
        {
            ServiceURL = swift.ServiceUrl,
            ForcePathStyle = true,
            AuthenticationRegion = SwiftServer.Region,
            MaxErrorRetry = 0,
        });
        using var http = target.Server.NewClient();
        var pending = new ConcurrentDictionary<string, long>(StringComparer.Ordinal); // key → completion timestamp
        var arrivals = new ConcurrentBag<Arrival>();
        var publishers = sessions.Select(s => IngestScenario.Publish(source, s.Url)).ToList();
        using var stop = new CancellationTokenSource();
        var clock = Stopwatch.StartNew();
        long outageFrom = 0, outageTo = 0;
        try
        {
            var watchers = sessions.SelectMany(s => renditions.Select(r => Task.Run(() => WatchAsync(http, s.Id, r, pending, stop.Token)))).ToList();
            var checker = Task.Run(() => CheckAsync(s3, bucket, pending, arrivals, stop.Token));
            if (outage > TimeSpan.Zero)
            {
                await Task.Delay(duration / 4);
                outageFrom = Stopwatch.GetTimestamp();
                await swift.StopProxyAsync();
                await Task.Delay(outage);
                await swift.StartProxyAsync();
                outageTo = Stopwatch.GetTimestamp();
            }

            var left = duration - clock.Elapsed;
            await Task.Delay(left > TimeSpan.Zero ? left : TimeSpan.Zero);
            foreach (var publisher in publishers)
            {
                publisher.Kill(); // the show stops here; segments completed so far still count
            }

            // What completed before the publishers stopped gets a little time to arrive; the lag is still measured.
            var settling = Stopwatch.StartNew();
            await stop.CancelAsync();
            await Task.WhenAll(watchers);
            while (!pending.IsEmpty && settling.Elapsed < TimeSpan.FromSeconds(20))
            {
                await Task.Delay(100);
            }

            await checker.WaitAsync(TimeSpan.FromSeconds(25)).ContinueWith(_ => { }, TaskScheduler.Default);
        }
        finally
        {
            IngestScenario.StopPublishers(publishers);
        }

        var seconds = duration.TotalSeconds;
        var all = arrivals.ToArray();
        var bytes = all.Sum(a => a.Bytes);
        // Segments that completed while the store was away wait for it; their lag is the outage, not the uploader's.
        var during = all.Where(a => outage > TimeSpan.Zero && a.Completed >= outageFrom && a.Completed < outageTo).ToArray();
        var sorted = all.Except(during).Select(a => Stopwatch.GetElapsedTime(a.Completed, a.Arrived).TotalSeconds).Order().ToArray();
        var row = string.Create(Inv,
            $"| {shows} | {string.Join(" + ", renditions)} | {all.Length} | {bytes / 1e6:F1} | {bytes / 1e6 / seconds:F2} | {all.Length / seconds:F1} | " +
            $"{LoadRunner.Percentile(sorted, 0.5):F2} | {LoadRunner.Percentile(sorted, 0.99):F2} | {(sorted.Length > 0 ? sorted[^1] : 0):F2} | {pending.Count} |");
        var drain = "";
        if (during.Length > 0)
        {
            var drained = Stopwatch.GetElapsedTime(outageTo, during.Max(a => a.Arrived)).TotalSeconds;
            var drainBytes = during.Sum(a => a.Bytes);
            drain = string.Create(Inv, $"| {shows} | {during.Length} | {drainBytes / 1e6:F1} | {drained:F2} | {drainBytes / 1e6 / Math.Max(drained, 0.001):F1} |");
        }

        return (row, drain);
    }

    private sealed record Arrival(long Completed, long Arrived, long Bytes);

    /// <summary>Polls one rendition's live playlist; a segment name seen for the first time is a completed segment.</summary>
    private static async Task WatchAsync(HttpClient http, string sessionId, string rendition, ConcurrentDictionary<string, long> pending, CancellationToken ct)
    {
        var seen = new HashSet<string>(StringComparer.Ordinal);
        while (!ct.IsCancellationRequested)
        {
            try
            {
                using var response = await http.GetAsync($"/hls/{sessionId}/{rendition}/index.m3u8", ct);
                if (response.StatusCode == HttpStatusCode.OK)
                {
                    var now = Stopwatch.GetTimestamp();
                    foreach (var line in (await response.Content.ReadAsStringAsync(ct)).Split('\n').Select(l => l.Trim()))
                    {
                        if (line.Length > 0 && !line.StartsWith('#') && seen.Add(line))
                        {
                            pending.TryAdd($"live/{sessionId}/{rendition}/{line}", now);
                        }
                    }
                }

                await Task.Delay(100, ct);
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or OperationCanceledException)
            {
            }
        }
    }

    /// <summary>HEADs every completed segment not yet seen in the store, every 50 ms, until it is there.</summary>
    private static async Task CheckAsync(AmazonS3Client s3, string bucket, ConcurrentDictionary<string, long> pending, ConcurrentBag<Arrival> arrivals, CancellationToken stop)
    {
        var deadline = new Stopwatch();
        while (!pending.IsEmpty || !stop.IsCancellationRequested)
        {
            if (stop.IsCancellationRequested)
            {
                deadline.Start();
                if (deadline.Elapsed > TimeSpan.FromSeconds(20))
                {
                    return;
                }
            }

            await Parallel.ForEachAsync(pending.ToArray(), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (entry, ct) =>
            {
                try
                {
                    var head = await s3.GetObjectMetadataAsync(bucket, entry.Key, ct);
                    var arrived = Stopwatch.GetTimestamp();
                    if (pending.TryRemove(entry.Key, out var completed))
                    {
                        arrivals.Add(new Arrival(completed, arrived, head.ContentLength));
                    }
                }
                catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
                {
                }
                catch (Exception ex) when (ex is AmazonServiceException or HttpRequestException or IOException or TaskCanceledException)
                {
                    // The store is away (the outage): asked again on the next pass.
                }
            });
            await Task.Delay(50, CancellationToken.None);
        }
    }
}
