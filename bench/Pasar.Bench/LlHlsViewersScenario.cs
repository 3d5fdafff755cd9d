using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Pasar.Testing;

namespace Pasar.Bench;

/// <summary>
/// Issue 14, the viewer load: one passthrough live session (the ingest scenario's 1080p60 source published with
/// <c>ffmpeg -re -c copy</c>), then N simulated viewers against one server, one row after the other in the same run.
/// <list type="bullet">
/// <item>LL-HLS, <b>reload then part</b>: what hls.js does in low-latency mode: a blocking reload
/// <c>index.m3u8?_HLS_msn=M&amp;_HLS_part=P</c> for the part the last playlist hinted, then that part (it exists by
/// then), then the next hint.</item>
/// <item>LL-HLS, <b>hinted part held</b>: what Apple's players do: the preload-hinted part and the blocking reload
/// for it requested together; the server holds both until the part is complete.</item>
/// <item>TS (<c>Pasar:Live:LowLatencyPassthrough=false</c>, ffmpeg's MPEG-TS HLS): plain playlist polling as hls.js
/// does without LL-HLS: reload every target duration (half of it when nothing changed), fetch each new segment.</item>
/// </list>
/// Rows with no viewers (an idle server, one stream alone) separate the stream's own cost from the viewers'.
/// With <c>--trace DIR</c>, <c>perf record</c> (CPU samples with call stacks) and <c>dotnet-counters</c> record the server over
/// each row's window into DIR (they cost CPU themselves: figures from such a run are not the headline ones).
/// </summary>
internal static class LlHlsViewersScenario
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    private enum Mode
    {
        ReloadThenPart,
        HintedPartHeld,
        TsPolling,
    }

    /// <param name="Environment">Settings or environment for the server in this row only (an A/B of a runtime knob).</param>
    private sealed record RowSpec(string Label, bool LowLatency, bool Stream, int Viewers, Mode Mode, IReadOnlyDictionary<string, string?>? Environment = null);

    /// <param name="sourceName"><c>1080p60</c> (the ingest scenario's 6 Mbit/s source) or <c>360p30</c> (~500 kbit/s, the
    /// forward scenario's: 12 times fewer bytes per viewer, to see the request handling rather than the copying).</param>
    /// <param name="warmup">From the viewers' start (the server's, in an idle row) to the window: lining up on the live
    /// edge, and the server's JIT compiling its hot paths.</param>
    /// <param name="compareEnvironment">When not empty, each row without viewers (and the largest LL-HLS crowd) is
    /// followed by the same row with these server settings: what a runtime knob changes, in the same run.</param>
    public static async Task RunAsync(string sourceName, IReadOnlyList<int> viewerCounts, TimeSpan duration, TimeSpan warmup, bool baseline, bool ts, bool held,
        IReadOnlyDictionary<string, string?> compareEnvironment, string? traceDirectory)
    {
        var (source, description) = sourceName switch
        {
            "1080p60" => (await IngestScenario.SourceAsync(), "1080p60 H.264 6 Mbit/s, 2 s GOP, AAC"),
            "360p30" => (await IngestScenario.EncodedSourceAsync("640x360", 30, "500k", "veryfast", "64k"), "360p30 H.264 ~500 kbit/s, 2 s GOP, AAC"),
            _ => throw new ArgumentException("--source is 1080p60 or 360p30"),
        };
        Console.WriteLine($"Pasar.Bench llhls-viewers: {duration.TotalSeconds} s window per row after {warmup.TotalSeconds} s of lining up, source {Path.GetFileName(source)} " +
            $"({description}), {Environment.ProcessorCount} cores, load average at start {IngestScenario.LoadAverage()}, {IngestScenario.FfmpegVersion()}");
        Console.WriteLine();
        Console.WriteLine("| packaging | stream | viewers | client | requests/s | media received, MB/s | delivery delay p50 / p99 / max, ms | errors (non-2xx / failed) | server CPU, % of a core | bench CPU, % of a core | server RSS (end / peak), MB |");
        Console.WriteLine("|---|---|---:|---|---:|---:|---:|---:|---:|---:|---:|");
        var rows = new List<RowSpec>();
        if (baseline)
        {
            rows.Add(new RowSpec("LL-HLS (in-process CMAF)", true, false, 0, Mode.ReloadThenPart));
            rows.Add(new RowSpec("LL-HLS (in-process CMAF)", true, true, 0, Mode.ReloadThenPart));
        }

        foreach (var n in viewerCounts.Where(n => n > 0))
        {
            rows.Add(new RowSpec("LL-HLS (in-process CMAF)", true, true, n, Mode.ReloadThenPart));
        }

        if (held && viewerCounts.Count > 0)
        {
            rows.Add(new RowSpec("LL-HLS (in-process CMAF)", true, true, viewerCounts.Max(), Mode.HintedPartHeld));
        }

        if (baseline && ts)
        {
            rows.Add(new RowSpec("TS (ffmpeg MPEG-TS HLS)", false, true, 0, Mode.TsPolling));
        }

        if (ts && viewerCounts.Count > 0)
        {
            rows.Add(new RowSpec("TS (ffmpeg MPEG-TS HLS)", false, true, viewerCounts.Max(), Mode.TsPolling));
        }

        if (compareEnvironment.Count > 0)
        {
            // Each compared row right after its plain twin, so that both meet the same load on a shared machine.
            var label = string.Join(", ", compareEnvironment.Select(kv => $"{kv.Key}={kv.Value}"));
            rows = [.. rows.SelectMany(r => r.Viewers == 0 || (r.LowLatency && r.Mode == Mode.ReloadThenPart && r.Viewers == viewerCounts.Max())
                ? new[] { r, r with { Label = $"{r.Label}, {label}", Environment = compareEnvironment } }
                : [r])];
        }

        foreach (var row in rows)
        {
            Console.WriteLine(await MeasureAsync(source, sourceName + " passthrough", row, duration, warmup, traceDirectory));
        }

        Console.WriteLine();
        Console.WriteLine($"load average at the end {IngestScenario.LoadAverage()}");
    }


    private static async Task<string> MeasureAsync(string source, string streamLabel, RowSpec row, TimeSpan duration, TimeSpan warmup, string? traceDirectory)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Pasar:Rtmp:Port"] = LocalServers.FreePort().ToString(Inv),
            ["Pasar:Live:Ladder"] = "",
            ["Pasar:Live:LowLatencyPassthrough"] = row.LowLatency ? "true" : "false",
        };
        foreach (var (key, value) in row.Environment ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        if (traceDirectory is not null)
        {
            settings["DOTNET_PerfMapEnabled"] = "1";
            settings["DOTNET_EnableWriteXorExecute"] = "0"; // JIT code in plain anonymous memory, where perf finds it with the map
        }

        await using var target = await BenchTarget.StartAsync("embedded", settings);
        var server = target.Server;
        Process? publisher = null;
        Uri? playlist = null;
        if (row.Stream)
        {
            using var seller = server.NewClient(await server.TokenAsync("bench-seller", "seller"));
            var created = await (await seller.PostAsJsonAsync("/api/live/sessions", new { title = "viewers bench" })).Content.ReadFromJsonAsync<JsonElement>();
            var rtmp = new Uri(created.GetProperty("rtmpUrl").GetString()!);
            publisher = IngestScenario.Publish(source, $"rtmp://127.0.0.1:{rtmp.Port}/live/{created.GetProperty("streamKey").GetString()}");
            playlist = new Uri(server.BaseAddress, $"/hls/{created.GetProperty("id").GetString()}/source/index.m3u8");
        }

        // Few clients, each with enough connections: one connection per viewer (two when a viewer has two requests
        // in flight), as HTTP/1.1 players have.
        var perViewer = row.Mode == Mode.HintedPartHeld ? 2 : 1;
        var clients = Enumerable.Range(0, 8).Select(_ => new HttpClient(new SocketsHttpHandler
        {
            MaxConnectionsPerServer = Math.Max(4, (row.Viewers * perViewer / 8) + 16),
            PooledConnectionLifetime = Timeout.InfiniteTimeSpan,
            ConnectTimeout = TimeSpan.FromSeconds(20),
        })
        { Timeout = TimeSpan.FromSeconds(30) }).ToArray();
        var stats = new Stats();
        using var stop = new CancellationTokenSource();
        var tasks = new List<Task>();
        try
        {
            if (playlist is not null)
            {
                await WaitPlayableAsync(clients[0], playlist);
                if (!row.LowLatency)
                {
                    tasks.Add(Task.Run(() => ProbeAsync(clients[0], playlist, stats, stop.Token)));
                }

                for (var i = 0; i < row.Viewers; i++)
                {
                    var http = clients[i % clients.Length];
                    tasks.Add(Task.Run(() => row.Mode switch
                    {
                        Mode.TsPolling => TsViewerAsync(http, playlist, stats, stop.Token),
                        _ => LowLatencyViewerAsync(http, playlist, row.Mode == Mode.HintedPartHeld, stats, stop.Token),
                    }));
                }
            }

            await Task.Delay(warmup);
            stats.Reset();
            var bench = Process.GetCurrentProcess();
            var benchCpu = bench.TotalProcessorTime;
            var serverCpu = server.CpuSeconds();
            var tools = traceDirectory is null ? [] : StartTools(traceDirectory, server.ProcessId, row, duration);
            var clock = Stopwatch.StartNew();
            await Task.Delay(duration);
            var seconds = clock.Elapsed.TotalSeconds;
            var usedServer = (server.CpuSeconds() - serverCpu) / seconds * 100;
            bench.Refresh();
            var usedBench = (bench.TotalProcessorTime - benchCpu).TotalSeconds / seconds * 100;
            var rss = ProcessStats.RssMb(server.ProcessId);
            var peak = server.PeakRssMb();
            var window = stats.Snapshot();
            await stop.CancelAsync();
            await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(40)).ContinueWith(_ => { }, TaskScheduler.Default);
            foreach (var tool in tools)
            {
                await tool.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60)).ContinueWith(_ => { }, TaskScheduler.Default);
                tool.Dispose();
            }

            var delays = window.Delays.Order().ToArray();
            string P(double q) => delays.Length == 0 ? "–" : LoadRunner.Percentile(delays, q).ToString("F0", Inv);
            var client = row.Viewers == 0 ? "–" : row.Mode switch
            {
                Mode.ReloadThenPart => "blocking reload, then the part",
                Mode.HintedPartHeld => "hinted part held + blocking reload",
                _ => "playlist polling (every target duration), new segments",
            };
            return string.Create(Inv,
                $"| {row.Label} | {(row.Stream ? streamLabel : "none (idle server)")} | {row.Viewers:N0} | {client} | {window.Requests / seconds:N0} | {window.Bytes / seconds / 1e6:F0} | " +
                $"{P(0.5)} / {P(0.99)} / {(delays.Length == 0 ? "–" : delays[^1].ToString("F0", Inv))} | {window.NonSuccess} / {window.Failed} | {usedServer:F1} | {usedBench:F0} | {rss:F0} / {peak:F0} |");
        }
        finally
        {
            await stop.CancelAsync();
            if (publisher is not null)
            {
                IngestScenario.StopPublishers([publisher]);
            }

            foreach (var http in clients)
            {
                http.Dispose();
            }
        }
    }

    private static async Task WaitPlayableAsync(HttpClient http, Uri playlist)
    {
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (true)
        {
            try
            {
                using var response = await http.GetAsync(playlist);
                if (response.IsSuccessStatusCode && (await response.Content.ReadAsStringAsync()).Contains("#EXTINF", StringComparison.Ordinal))
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("The show's playlist never became playable: " + playlist);
            }

            await Task.Delay(200);
        }
    }

    /// <summary>
    /// One LL-HLS viewer. Delivery delay of a part: from the moment the server closed it, to this viewer having all
    /// of its bytes. The server's close time is read from the playlist: the segment's
    /// <c>EXT-X-PROGRAM-DATE-TIME</c> (set by the packager to its clock when the segment's first part closed, minus
    /// that part's duration) plus the durations of the segment's parts up to and including this one. The server's
    /// own <c>pasar_live_part_latency_seconds</c> histogram is the error of that estimate (near zero when ingest keeps pace).
    /// </summary>
    private static async Task LowLatencyViewerAsync(HttpClient http, Uri playlist, bool held, Stats stats, CancellationToken ct)
    {
        // Viewers join over the first second, not all in the same millisecond.
        await Task.Delay(Random.Shared.Next(1000), ct).ContinueWith(_ => { }, TaskScheduler.Default);
        string? text = null;
        while (!ct.IsCancellationRequested)
        {
            try
            {
                text ??= await GetTextAsync(http, playlist, stats, ct);
                if (text is null)
                {
                    await Task.Delay(500, ct);
                    continue;
                }

                var hint = Hint(text);
                var reload = new Uri(playlist, $"?_HLS_msn={hint.Msn}&_HLS_part={hint.Part}");
                var partUri = new Uri(playlist, hint.Uri);
                byte[]? bytes;
                if (held)
                {
                    var partTask = GetBytesAsync(http, partUri, stats, ct);
                    text = await GetTextAsync(http, reload, stats, ct);
                    bytes = await partTask;
                }
                else
                {
                    text = await GetTextAsync(http, reload, stats, ct);
                    bytes = text is null ? null : await GetBytesAsync(http, partUri, stats, ct);
                }

                var at = DateTimeOffset.UtcNow;
                if (bytes is not null && text is not null && PartEnd(text, hint.Uri) is { } end)
                {
                    stats.Delivered(bytes.Length, (at - end).TotalMilliseconds);
                }
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or OperationCanceledException or InvalidOperationException)
            {
                if (!ct.IsCancellationRequested)
                {
                    stats.Fail();
                }

                text = null;
            }
        }
    }

    /// <summary>
    /// One viewer of the TS playlist, as hls.js plays ordinary HLS: starts at the live edge, reloads the playlist one
    /// target duration after the last reload that brought something new (half of it after one that did not), and
    /// fetches each new segment. Delivery delay of a segment: from the probe's first sight of it (a poll every
    /// 100 ms, so up to 100 ms late) to this viewer having its bytes.
    /// </summary>
    private static async Task TsViewerAsync(HttpClient http, Uri playlist, Stats stats, CancellationToken ct)
    {
        await Task.Delay(Random.Shared.Next(2000), ct).ContinueWith(_ => { }, TaskScheduler.Default);
        string? last = null;
        while (!ct.IsCancellationRequested)
        {
            var started = Stopwatch.GetTimestamp();
            var changed = false;
            try
            {
                if (await GetTextAsync(http, playlist, stats, ct) is { } text)
                {
                    var (segments, target) = Segments(text);
                    var fresh = last is null ? segments.TakeLast(1) : segments.SkipWhile(s => s != last).Skip(1);
                    if (last is not null && !segments.Contains(last))
                    {
                        fresh = segments.TakeLast(1); // fell out of the window: back to the live edge
                    }

                    foreach (var segment in fresh.ToList())
                    {
                        var bytes = await GetBytesAsync(http, new Uri(playlist, segment), stats, ct);
                        if (bytes is not null && stats.FirstSeen(segment) is { } seen)
                        {
                            stats.Delivered(bytes.Length, (DateTimeOffset.UtcNow - seen).TotalMilliseconds);
                        }

                        last = segment;
                        changed = true;
                    }

                    var wait = TimeSpan.FromSeconds(changed ? target : target / 2.0) - Stopwatch.GetElapsedTime(started);
                    if (wait > TimeSpan.Zero)
                    {
                        await Task.Delay(wait, ct);
                    }

                    continue;
                }

                await Task.Delay(500, ct);
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or OperationCanceledException)
            {
                if (!ct.IsCancellationRequested)
                {
                    stats.Fail();
                }
            }
        }
    }

    /// <summary>The TS row's clock for "the segment exists": the playlist polled every 100 ms.</summary>
    private static async Task ProbeAsync(HttpClient http, Uri playlist, Stats stats, CancellationToken ct)
    {
        while (!ct.IsCancellationRequested)
        {
            try
            {
                using var response = await http.GetAsync(playlist, ct);
                if (response.IsSuccessStatusCode)
                {
                    var now = DateTimeOffset.UtcNow;
                    foreach (var segment in Segments(await response.Content.ReadAsStringAsync(ct)).Segments)
                    {
                        stats.Seen(segment, now);
                    }
                }

                await Task.Delay(100, ct);
            }
            catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or OperationCanceledException)
            {
            }
        }
    }

    private static async Task<string?> GetTextAsync(HttpClient http, Uri uri, Stats stats, CancellationToken ct)
    {
        using var response = await http.GetAsync(uri, ct);
        var text = await response.Content.ReadAsStringAsync(ct);
        return stats.Answered(response) ? text : null;
    }

    private static async Task<byte[]?> GetBytesAsync(HttpClient http, Uri uri, Stats stats, CancellationToken ct)
    {
        using var response = await http.GetAsync(uri, ct);
        var bytes = await response.Content.ReadAsByteArrayAsync(ct);
        return stats.Answered(response) ? bytes : null;
    }

    internal static (long Msn, int Part, string Uri) Hint(string playlist)
    {
        var hint = playlist.Split('\n').Single(l => l.StartsWith("#EXT-X-PRELOAD-HINT", StringComparison.Ordinal));
        var uri = hint[(hint.IndexOf("URI=\"", StringComparison.Ordinal) + 5)..].TrimEnd('"');
        return (long.Parse(uri.AsSpan(1, 6), Inv), int.Parse(uri.AsSpan(8, uri.Length - 12), Inv), uri);
    }

    /// <summary>When the server closed part <paramref name="partUri"/>: its segment's PROGRAM-DATE-TIME plus the parts' durations up to it.</summary>
    private static DateTimeOffset? PartEnd(string playlist, string partUri)
    {
        DateTimeOffset? segmentStart = null;
        var offset = 0.0;
        foreach (var line in playlist.Split('\n'))
        {
            if (line.StartsWith("#EXT-X-PROGRAM-DATE-TIME:", StringComparison.Ordinal))
            {
                segmentStart = DateTimeOffset.Parse(line.AsSpan(25), Inv, DateTimeStyles.AssumeUniversal);
                offset = 0;
            }
            else if (line.StartsWith("#EXT-X-PART:", StringComparison.Ordinal))
            {
                var duration = line.AsSpan(line.IndexOf("DURATION=", StringComparison.Ordinal) + 9);
                offset += double.Parse(duration[..duration.IndexOf(',')], Inv);
                if (line.Contains($"URI=\"{partUri}\"", StringComparison.Ordinal))
                {
                    return segmentStart?.AddSeconds(offset);
                }
            }
        }

        return null;
    }

    private static (List<string> Segments, int Target) Segments(string playlist)
    {
        var target = 2;
        var segments = new List<string>();
        foreach (var line in playlist.Split('\n'))
        {
            if (line.StartsWith("#EXT-X-TARGETDURATION:", StringComparison.Ordinal))
            {
                target = int.Parse(line.AsSpan(22).Trim(), Inv);
            }
            else if (line.Length > 0 && !line.StartsWith('#'))
            {
                segments.Add(line.Trim());
            }
        }

        return (segments, target);
    }

    /// <summary>What the viewers saw in the window, shared by all of them (a lock: a few thousand updates a second).</summary>
    private sealed class Stats
    {
        private readonly object _lock = new();
        private readonly Dictionary<string, DateTimeOffset> _seen = new(StringComparer.Ordinal);
        private List<double> _delays = [];
        private long _requests;
        private long _bytes;
        private long _nonSuccess;
        private long _failed;

        public bool Answered(HttpResponseMessage response)
        {
            lock (_lock)
            {
                _requests++;
                if (!response.IsSuccessStatusCode)
                {
                    _nonSuccess++;
                }
            }

            return response.IsSuccessStatusCode;
        }

        public void Fail()
        {
            lock (_lock)
            {
                _failed++;
            }
        }

        public void Delivered(long bytes, double delayMs)
        {
            lock (_lock)
            {
                _bytes += bytes;
                _delays.Add(delayMs);
            }
        }

        public void Seen(string segment, DateTimeOffset at)
        {
            lock (_lock)
            {
                _seen.TryAdd(segment, at);
            }
        }

        public DateTimeOffset? FirstSeen(string segment)
        {
            lock (_lock)
            {
                return _seen.TryGetValue(segment, out var at) ? at : null;
            }
        }

        public void Reset()
        {
            lock (_lock)
            {
                _delays = [];
                _requests = _bytes = _nonSuccess = _failed = 0;
            }
        }

        public (long Requests, long Bytes, long NonSuccess, long Failed, double[] Delays) Snapshot()
        {
            lock (_lock)
            {
                return (_requests, _bytes, _nonSuccess, _failed, [.. _delays]);
            }
        }
    }

    /// <summary>perf (CPU samples) and dotnet-counters (runtime counters) attached to the server for the window.</summary>
    private static List<Process> StartTools(string directory, int pid, RowSpec row, TimeSpan duration)
    {
        Directory.CreateDirectory(directory);
        var name = $"{(row.LowLatency ? "llhls" : "ts")}-{(row.Stream ? "stream" : "idle")}-{row.Viewers}-{row.Mode}{(row.Environment is null ? "" : "-compare")}".ToLowerInvariant();
        var span = duration.ToString(@"hh\:mm\:ss", Inv);
        var processes = new List<Process>();
        foreach (var (tool, args) in new[]
        {
            // perf samples every thread of the server on CPU; the runtime writes a map of JIT-compiled code for it (DOTNET_PerfMapEnabled).
            ("perf", new[] { "record", "-e", "cpu-clock", "-F", "499", "-g", "-p", pid.ToString(Inv), "-o", Path.Combine(directory, name + ".perf"), "--", "sleep", ((int)duration.TotalSeconds).ToString(Inv) }),
            ("dotnet-counters", new[] { "collect", "-p", pid.ToString(Inv), "--counters", "System.Runtime,Microsoft.AspNetCore.Hosting", "--duration", span, "--format", "csv", "-o", Path.Combine(directory, name + ".counters.csv") }),
        })
        {
            var start = new ProcessStartInfo(tool) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
            foreach (var arg in args)
            {
                start.ArgumentList.Add(arg);
            }

            var process = Process.Start(start)!;
            process.OutputDataReceived += (_, _) => { };
            process.ErrorDataReceived += (_, _) => { };
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            processes.Add(process);
        }

        return processes;
    }
}
