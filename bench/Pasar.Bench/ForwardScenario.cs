using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Pasar.Testing;

namespace Pasar.Bench;

/// <summary>
/// Forwarded playback cost (ADR 0025): two Pasar nodes on one PostgreSQL and one Redis, one show published into node
/// A (passthrough LL-HLS), and N simulated LL-HLS viewers (blocking playlist reload for the hinted part, then that
/// part) first on node A directly, then on node B, which forwards to A. For each: CPU of both nodes, and the delay
/// from a part's availability (a probe viewer's blocking reload on A answers) to each viewer having the part.
/// </summary>
internal static class ForwardScenario
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static async Task RunAsync(int viewers, TimeSpan duration)
    {
        var source = await IngestScenario.EncodedSourceAsync("640x360", 30, "500k", "veryfast", "64k");
        Console.WriteLine($"Pasar.Bench forward: {viewers} LL-HLS viewers, {duration.TotalSeconds} s per row, source {Path.GetFileName(source)} " +
            $"(360p30 H.264 ~500 kbit/s, 2 s GOP, AAC), {Environment.ProcessorCount} cores, load average at start {IngestScenario.LoadAverage()}");
        await using var postgres = await PostgresServer.StartAsync();
        await using var redis = await RedisServer.StartAsync();
        var shared = new Dictionary<string, string?>
        {
            ["Pasar:Auth:DevTokens"] = "true",
            ["Pasar:Auth:SigningKey"] = BenchTarget.SigningKey,
            ["Pasar:Demo:Seed"] = "false",
            ["Pasar:Demo:LiveShow"] = "false",
            ["Pasar:RateLimits:Enabled"] = "false",
            ["Pasar:Live:Ladder"] = "",
            ["Pasar:Live:LowLatencyPassthrough"] = "true",
            ["Pasar:Database:Provider"] = "Postgres",
            ["Pasar:Database:ConnectionString"] = await postgres.CreateDatabaseAsync(),
            ["Pasar:Redis:ConnectionString"] = redis.ConnectionString,
            ["Pasar:Redis:KeyPrefix"] = "bench-forward:",
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
        };
        var rtmpPort = LocalServers.FreePort();
        var dirs = new[] { "a", "b" }.Select(n => Path.Combine(Path.GetTempPath(), $"pasar-bench-forward-{n}-" + Guid.NewGuid().ToString("N")[..8])).ToArray();
        await using var nodeA = await ServerProcess.StartAsync(new Dictionary<string, string?>(shared) { ["Pasar:DataDir"] = dirs[0], ["Pasar:Rtmp:Port"] = rtmpPort.ToString(Inv) }, LocalServers.FreePort());
        await using var nodeB = await ServerProcess.StartAsync(new Dictionary<string, string?>(shared) { ["Pasar:DataDir"] = dirs[1], ["Pasar:Rtmp:Port"] = "0" }, LocalServers.FreePort());
        using var seller = nodeA.NewClient(await nodeA.TokenAsync("bench-seller", "seller"));
        var created = await (await seller.PostAsJsonAsync("/api/live/sessions", new { title = "forward bench" })).Content.ReadFromJsonAsync<JsonElement>();
        var id = created.GetProperty("id").GetString()!;
        using var publisher = IngestScenario.Publish(source, $"rtmp://127.0.0.1:{rtmpPort}/live/{created.GetProperty("streamKey").GetString()}");
        try
        {
            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = viewers * 2, PooledConnectionLifetime = Timeout.InfiniteTimeSpan })
            {
                Timeout = TimeSpan.FromSeconds(60),
            };
            var playlist = $"/hls/{id}/source/index.m3u8";
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while ((await http.GetAsync(new Uri(nodeB.BaseAddress, playlist))).StatusCode != System.Net.HttpStatusCode.OK)
            {
                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException("node B never served the show's playlist");
                }

                await Task.Delay(200);
            }

            Console.WriteLine();
            Console.WriteLine("| viewers on | viewers | parts received | part delay p50 / p99 / max, ms | node A CPU, % of a core | node B CPU, % of a core | errors |");
            Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
            foreach (var (label, node) in new[] { ("node A (ingest, direct)", nodeA), ("node B (forwarded to A)", nodeB) })
            {
                Console.WriteLine(await MeasureAsync(label, http, nodeA, nodeB, new Uri(nodeA.BaseAddress, playlist), new Uri(node.BaseAddress, playlist), viewers, duration));
            }
        }
        finally
        {
            publisher.Kill(entireProcessTree: true);
        }

        Console.WriteLine();
        Console.WriteLine($"load average at the end {IngestScenario.LoadAverage()}");
        foreach (var dir in dirs)
        {
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    private static async Task<string> MeasureAsync(string label, HttpClient http, ServerProcess nodeA, ServerProcess nodeB, Uri probePlaylist, Uri viewerPlaylist, int viewers, TimeSpan duration)
    {
        using var stop = new CancellationTokenSource();
        var available = new ConcurrentDictionary<string, long>(StringComparer.Ordinal);
        var received = new ConcurrentBag<(string Part, long At)>();
        var errors = 0;
        var probe = Task.Run(async () =>
        {
            var hint = Hint(await http.GetStringAsync(probePlaylist));
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var text = await http.GetStringAsync(new Uri(probePlaylist, $"?_HLS_msn={hint.Msn}&_HLS_part={hint.Part}"));
                    available.TryAdd(hint.Uri, Stopwatch.GetTimestamp());
                    hint = Hint(text);
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                {
                    hint = Hint(await http.GetStringAsync(probePlaylist));
                }
            }
        });
        var crowd = Enumerable.Range(0, viewers).Select(_ => Task.Run(async () =>
        {
            var hint = Hint(await http.GetStringAsync(viewerPlaylist));
            while (!stop.IsCancellationRequested)
            {
                try
                {
                    var text = await http.GetStringAsync(new Uri(viewerPlaylist, $"?_HLS_msn={hint.Msn}&_HLS_part={hint.Part}"));
                    await http.GetByteArrayAsync(new Uri(viewerPlaylist, hint.Uri));
                    received.Add((hint.Uri, Stopwatch.GetTimestamp()));
                    hint = Hint(text);
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                {
                    Interlocked.Increment(ref errors);
                    hint = Hint(await http.GetStringAsync(viewerPlaylist));
                }
            }
        })).ToList();

        // Let the viewers line up on the live edge, then measure a window.
        await Task.Delay(TimeSpan.FromSeconds(5));
        received.Clear();
        Volatile.Write(ref errors, 0);
        var cpuA = nodeA.CpuSeconds();
        var cpuB = nodeB.CpuSeconds();
        var clock = Stopwatch.StartNew();
        await Task.Delay(duration);
        var seconds = clock.Elapsed.TotalSeconds;
        var usedA = (nodeA.CpuSeconds() - cpuA) / seconds * 100;
        var usedB = (nodeB.CpuSeconds() - cpuB) / seconds * 100;
        var window = received.ToArray();
        var failures = Volatile.Read(ref errors);
        stop.Cancel();
        await Task.WhenAll(crowd.Append(probe)).WaitAsync(TimeSpan.FromSeconds(30)).ContinueWith(_ => { }, TaskScheduler.Default);

        var delays = window.Where(r => available.ContainsKey(r.Part))
            .Select(r => Math.Max(0, Stopwatch.GetElapsedTime(available[r.Part], r.At).TotalMilliseconds)).Order().ToArray();
        string P(double q) => delays.Length == 0 ? "n/a" : delays[Math.Min(delays.Length - 1, (int)(q * delays.Length))].ToString("F0", Inv);
        return $"| {label} | {viewers} | {window.Length} | {P(0.5)} / {P(0.99)} / {(delays.Length == 0 ? "n/a" : delays[^1].ToString("F0", Inv))} | {usedA:F0} | {usedB:F0} | {failures} |";
    }

    private static (long Msn, int Part, string Uri) Hint(string playlist) => LlHlsViewersScenario.Hint(playlist);
}
