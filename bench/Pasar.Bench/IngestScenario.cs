using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Pasar.Testing;

namespace Pasar.Bench;

/// <summary>
/// Live ingest: N publishers send the same pre-encoded 1080p60 stream (<c>ffmpeg -re -stream_loop -1 -c copy</c>, so
/// publishing costs almost nothing) to Pasar, or to nginx with libnginx-mod-rtmp as the peer. A poller reads the
/// playlists over HTTP every 100 ms and records when each segment appears.
/// Figures: time from the first published frame to a playable master playlist; publish-to-playlist latency (the age
/// of a segment's newest frame when the segment appears); speed (content produced per wall second in the steady part,
/// the slowest rendition of the slowest stream); CPU of the server and its ffmpeg children per stream.
/// </summary>
public static class IngestScenario
{
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static async Task RunAsync(TimeSpan duration, int maxStreams)
    {
        var source = await SourceAsync();
        Console.WriteLine($"Pasar.Bench ingest: {duration.TotalSeconds} s per row, source {Path.GetFileName(source)} (1080p60 H.264 6 Mbit/s, 2 s GOP, AAC), " +
            $"{Environment.ProcessorCount} cores, {GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1L << 30)} GiB, {FfmpegVersion()}");
        Console.WriteLine();
        Console.WriteLine("| target | renditions | streams | speed (slowest) | real time | first frame → playable master, s | publish → playlist latency p50 / p95, s | CPU per stream, % of a core |");
        Console.WriteLine("|---|---|---:|---:|---|---:|---:|---:|");

        Console.WriteLine((await MeasurePasarAsync(source, "", 1, duration)).Markdown);
        Console.WriteLine((await MeasurePasarAsync(source, "480p30,360p30", 1, duration)).Markdown);
        for (var streams = 2; streams <= maxStreams; streams++)
        {
            var row = await MeasurePasarAsync(source, "480p30,360p30", streams, duration);
            Console.WriteLine(row.Markdown);
            if (!row.RealTime)
            {
                break;
            }
        }

        Console.WriteLine((await MeasurePasarAsync(source, "720p30,480p30,360p30", 1, duration)).Markdown);
        if (NginxInstalled)
        {
            Console.WriteLine((await MeasureNginxAsync(source, 1, duration)).Markdown);
            Console.WriteLine((await MeasureNginxAsync(source, 4, duration)).Markdown);
        }
        else
        {
            Console.WriteLine(NginxMissing);
        }
    }

    /// <summary>
    /// Issue 14: CPU of one passthrough 1080p60 stream, packaged in-process as LL-HLS over CMAF, against the same
    /// stream through ffmpeg's MPEG-TS HLS (the flag off) and nginx-rtmp's HLS, one after the other in the same run.
    /// </summary>
    /// <summary>Where a row's measured window starts (the publishers' first 15 s, or a third of the row, by default).</summary>
    internal static TimeSpan? Warmup { get; set; }

    public static async Task RunLowLatencyCpuAsync(TimeSpan duration)
    {
        var source = await SourceAsync();
        Console.WriteLine($"Pasar.Bench llhls-cpu: {duration.TotalSeconds} s per row (measured from {(Warmup ?? TimeSpan.FromSeconds(Math.Min(15, duration.TotalSeconds / 3))).TotalSeconds} s), source {Path.GetFileName(source)} (1080p60 H.264 6 Mbit/s, 2 s GOP, AAC), " +
            $"{Environment.ProcessorCount} cores, load average at start {LoadAverage()}, {FfmpegVersion()}");
        Console.WriteLine();
        Console.WriteLine("| target | renditions | streams | speed (slowest) | real time | first frame → playable master, s | publish → playlist latency p50 / p95, s | CPU per stream, % of a core |");
        Console.WriteLine("|---|---|---:|---:|---|---:|---:|---:|");
        Console.WriteLine((await MeasurePasarAsync(source, "", 1, duration, lowLatency: true)).Markdown);
        Console.WriteLine((await MeasurePasarAsync(source, "", 1, duration, lowLatency: false)).Markdown);
        Console.WriteLine(NginxInstalled ? (await MeasureNginxAsync(source, 1, duration)).Markdown : NginxMissing);
        Console.WriteLine();
        Console.WriteLine($"load average at the end {LoadAverage()}");
    }

    /// <summary>
    /// Issue 14: how many default-ladder 1080p60 streams (passthrough + 480p30 + 360p30) stay live on this machine, with
    /// every rendition through the in-process CMAF packager (ffmpeg only encodes the rungs) against ffmpeg's MPEG-TS HLS
    /// muxer for all of them (the flag off), in the same run: one more stream per row until one is not real time.
    /// </summary>
    public static async Task RunLadderAsync(TimeSpan duration, int maxStreams)
    {
        var source = await SourceAsync();
        Console.WriteLine($"Pasar.Bench llhls-ladder: {duration.TotalSeconds} s per row, source {Path.GetFileName(source)} (1080p60 H.264 6 Mbit/s, 2 s GOP, AAC), " +
            $"{Environment.ProcessorCount} cores, load average at start {LoadAverage()}, {FfmpegVersion()}");
        Console.WriteLine();
        Console.WriteLine("| target | renditions | streams | speed (slowest) | real time | first frame → playable master, s | publish → playlist latency p50 / p95, s | CPU per stream, % of a core |");
        Console.WriteLine("|---|---|---:|---:|---|---:|---:|---:|");
        foreach (var target in new[] { "cmaf", "ffmpeg", "ts" })
        {
            for (var streams = 1; streams <= maxStreams; streams++)
            {
                var row = target == "ffmpeg"
                    ? await MeasureFfmpegAloneAsync(source, streams, duration)
                    : await MeasurePasarAsync(source, "480p30,360p30", streams, duration, lowLatency: target == "cmaf");
                Console.WriteLine(row.Markdown);
                if (!row.RealTime)
                {
                    break;
                }
            }
        }

        Console.WriteLine();
        Console.WriteLine($"load average at the end {LoadAverage()}");
    }

    private static bool NginxInstalled => LocalServers.Which("nginx") is not null && File.Exists("/usr/lib/nginx/modules/ngx_rtmp_module.so");

    private const string NginxMissing = "| nginx-rtmp | not installed (apt-get install -y nginx libnginx-mod-rtmp) | | | | | | |";

    internal static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? string.Join(' ', File.ReadAllText("/proc/loadavg").Split(' ').Take(3)) : "n/a";

    private static async Task<Row> MeasurePasarAsync(string source, string ladder, int streams, TimeSpan duration, bool lowLatency = false)
    {
        await using var target = await BenchTarget.StartAsync("embedded", new Dictionary<string, string?>
        {
            ["Pasar:Rtmp:Port"] = LocalServers.FreePort().ToString(Inv),
            ["Pasar:Live:Ladder"] = ladder,
            ["Pasar:Live:MaxTranscodedSessions"] = "1000", // measure the machine, not the admission limit
            ["Pasar:Live:LowLatencyPassthrough"] = lowLatency ? "true" : "false",
        });
        using var seller = target.Server.NewClient(await target.Server.TokenAsync("bench-seller", "seller"));
        var sessions = new List<(string Id, string Key, int Port)>();
        for (var i = 0; i < streams; i++)
        {
            var created = await (await seller.PostAsJsonAsync("/api/live/sessions", new { title = $"bench {i}" })).Content.ReadFromJsonAsync<JsonElement>();
            var rtmp = new Uri(created.GetProperty("rtmpUrl").GetString()!);
            sessions.Add((created.GetProperty("id").GetString()!, created.GetProperty("streamKey").GetString()!, rtmp.Port));
        }

        var renditions = new[] { "source" }.Concat(ladder.Split(',', StringSplitOptions.RemoveEmptyEntries)).ToArray();
        using var http = target.Server.NewClient();
        var streamsMeasured = sessions.Select(s => new StreamWatch(
            $"rtmp://127.0.0.1:{s.Port}/live/{s.Key}",
            new Uri(target.Server.BaseAddress, $"/hls/{s.Id}/master.m3u8"),
            [.. renditions.Select(r => new Uri(target.Server.BaseAddress, $"/hls/{s.Id}/{r}/index.m3u8"))])).ToList();
        var pid = target.Server.ProcessId;
        var (speed, toPlayable, p50, p95, cpu) = await RunAsync(source, streamsMeasured, http, () => ProcessStats.Seconds(pid), duration);
        var label = ladder.Length == 0 ? "passthrough" : "passthrough + " + ladder.Replace(",", " + ", StringComparison.Ordinal);
        return new Row(lowLatency ? "Pasar (in-process LL-HLS/CMAF)" : "Pasar", label, streams, speed, toPlayable, p50, p95, cpu);
    }

    /// <summary>
    /// The peer for "streams held live": ffmpeg alone doing what Pasar has it do for each show (decode the source,
    /// the same filter graph and x264 arguments for 480p30 and 360p30 as Pasar's <c>HlsTranscoder</c> builds),
    /// reading the file in real time and writing FLV to /dev/null, with no server and no packaging. Speed is read
    /// from ffmpeg's <c>-progress</c> output over the steady window.
    /// </summary>
    private static async Task<Row> MeasureFfmpegAloneAsync(string source, int streams, TimeSpan duration)
    {
        // The arguments Pasar's HlsTranscoder gives ffmpeg for this ladder on the CMAF path (FilterGraph with
        // keepKeyFrames, EncoderArguments without a GOP), written out here since the bench does not link the server.
        const string select = "select='key+isnan(prev_selected_t)+gte(t-prev_selected_t\\,0.02933)'";
        var arguments = new List<string>
        {
            "-hide_banner", "-loglevel", "error", "-nostats", "-progress", "pipe:1", "-re", "-stream_loop", "-1", "-copyts", "-i", source,
            "-filter_complex", $"[0:v]split=2[s1][s2];[s1]{select},scale=854:480:flags=area,format=yuv420p[v1];[s2]{select},scale=640:360:flags=area,format=yuv420p[v2]",
        };
        foreach (var (output, kbps) in new[] { ("[v1]", 1400), ("[v2]", 800) })
        {
            arguments.AddRange(["-map", output, "-map", "0:a:0", "-c:a", "copy", "-c:v", "libx264", "-preset:v", "ultrafast",
                "-b:v", $"{kbps}k", "-maxrate:v", $"{kbps * 11 / 10}k", "-bufsize:v", $"{kbps * 2}k", "-g:v", "600", "-sc_threshold:v", "0",
                "-tune:v", "zerolatency", "-force_key_frames:v", "source", "-fps_mode:v", "passthrough", "-f", "flv", "-y", "/dev/null"]);
        }

        var processes = new List<(Process Process, double[] OutSeconds)>();
        try
        {
            for (var i = 0; i < streams; i++)
            {
                var start = new ProcessStartInfo("ffmpeg") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
                arguments.ForEach(start.ArgumentList.Add);
                var process = Process.Start(start)!;
                process.StandardInput.Close();
                var outSeconds = new double[1];
                process.OutputDataReceived += (_, e) =>
                {
                    if (e.Data is { } line && line.StartsWith("out_time_us=", StringComparison.Ordinal)
                        && long.TryParse(line.AsSpan(12), NumberStyles.Integer, Inv, out var us))
                    {
                        Volatile.Write(ref outSeconds[0], us / 1e6);
                    }
                };
                process.ErrorDataReceived += (_, _) => { };
                process.BeginOutputReadLine();
                process.BeginErrorReadLine();
                processes.Add((process, outSeconds));
            }

            var steadyFrom = TimeSpan.FromSeconds(Math.Min(15, duration.TotalSeconds / 3));
            await Task.Delay(steadyFrom);
            double Cpu() => processes.Sum(p => ProcessStats.Seconds(p.Process.Id));
            var cpuBefore = Cpu();
            var contentBefore = processes.Select(p => Volatile.Read(ref p.OutSeconds[0])).ToArray();
            var clock = Stopwatch.StartNew();
            await Task.Delay(duration - steadyFrom);
            var cpu = (Cpu() - cpuBefore) / clock.Elapsed.TotalSeconds / streams * 100;
            var speed = processes.Select((p, i) => (Volatile.Read(ref p.OutSeconds[0]) - contentBefore[i]) / clock.Elapsed.TotalSeconds).Min();
            return new Row("ffmpeg alone (the same decode and rung encodes, no server)", "480p30 + 360p30", streams, speed, double.NaN, 0, 0, cpu);
        }
        finally
        {
            StopPublishers(processes.Select(p => p.Process));
        }
    }

    private static async Task<Row> MeasureNginxAsync(string source, int streams, TimeSpan duration)
    {
        var directory = Path.Combine(Path.GetTempPath(), "pasar-bench-nginx-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(Path.Combine(directory, "hls"));
        var rtmpPort = LocalServers.FreePort();
        var httpPort = LocalServers.FreePort();
        var config = $$"""
            load_module /usr/lib/nginx/modules/ngx_rtmp_module.so;
            daemon off;
            user root;
            worker_processes 1;
            pid {{directory}}/nginx.pid;
            error_log {{directory}}/error.log warn;
            events { worker_connections 1024; }
            rtmp {
              server {
                listen {{rtmpPort}};
                chunk_size 4096;
                application live {
                  live on;
                  record off;
                  hls on;
                  hls_path {{directory}}/hls;
                  hls_fragment 2s;
                  hls_playlist_length 20s;
                }
              }
            }
            http {
              access_log off;
              server {
                listen 127.0.0.1:{{httpPort}};
                location /hls {
                  types { application/vnd.apple.mpegurl m3u8; video/mp2t ts; }
                  root {{directory}};
                  add_header Cache-Control no-cache;
                }
              }
            }
            """;
        var configPath = Path.Combine(directory, "nginx.conf");
        await File.WriteAllTextAsync(configPath, config);
        var start = new ProcessStartInfo("nginx") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in new[] { "-p", directory, "-c", configPath })
        {
            start.ArgumentList.Add(argument);
        }

        using var nginx = Process.Start(start)!;
        try
        {
            await Task.Delay(500);
            using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{httpPort}"), Timeout = TimeSpan.FromSeconds(5) };
            var watches = Enumerable.Range(0, streams).Select(i =>
            {
                var key = "bench" + i;
                var playlist = new Uri(http.BaseAddress!, $"/hls/{key}.m3u8");
                return new StreamWatch($"rtmp://127.0.0.1:{rtmpPort}/live/{key}", playlist, [playlist]);
            }).ToList();
            var (speed, toPlayable, p50, p95, cpu) = await RunAsync(source, watches, http, () => ProcessStats.Seconds(nginx.Id), duration);
            return new Row("nginx 1.22 + libnginx-mod-rtmp (HLS on)", "passthrough (remux only)", streams, speed, toPlayable, p50, p95, cpu);
        }
        finally
        {
            nginx.Kill(entireProcessTree: true);
            await nginx.WaitForExitAsync();
            Directory.Delete(directory, recursive: true);
        }
    }

    private static async Task<(double Speed, double ToPlayable, double P50, double P95, double CpuPerStream)> RunAsync(
        string source, List<StreamWatch> watches, HttpClient http, Func<double> cpuSeconds, TimeSpan duration)
    {
        var publishers = new List<Process>();
        var stop = new CancellationTokenSource();
        try
        {
            foreach (var watch in watches)
            {
                watch.PublishedAt = Stopwatch.GetTimestamp();
                publishers.Add(Publish(source, watch.PublishUrl));
            }

            var steadyFrom = Warmup ?? TimeSpan.FromSeconds(Math.Min(15, duration.TotalSeconds / 3));
            var clock = Stopwatch.StartNew();
            double? cpuAtSteady = null;
            var steadyClock = new Stopwatch();
            var pollers = watches.Select(w => Task.Run(() => w.PollAsync(http, steadyFrom, stop.Token))).ToList();
            while (clock.Elapsed < duration)
            {
                await Task.Delay(250);
                if (cpuAtSteady is null && clock.Elapsed >= steadyFrom)
                {
                    cpuAtSteady = cpuSeconds();
                    steadyClock.Start();
                }
            }

            var cpu = (cpuSeconds() - (cpuAtSteady ?? 0)) / steadyClock.Elapsed.TotalSeconds / watches.Count * 100;
            await stop.CancelAsync();
            await Task.WhenAll(pollers);
            var speed = watches.Min(w => w.Speed(duration - steadyFrom));
            var lags = watches.SelectMany(w => w.Lags).Order().ToArray();
            var playable = watches.Select(w => w.ToPlayable ?? double.NaN).Order().ToArray();
            return (speed, playable[playable.Length / 2], LoadRunner.Percentile(lags, 0.5), LoadRunner.Percentile(lags, 0.95), cpu);
        }
        finally
        {
            StopPublishers(publishers);
        }
    }

    /// <summary>Kills and disposes publishers (some may have exited already).</summary>
    internal static void StopPublishers(IEnumerable<Process> publishers)
    {
        foreach (var publisher in publishers)
        {
            try
            {
                publisher.Kill();
            }
            catch (InvalidOperationException)
            {
            }

            publisher.Dispose();
        }
    }

    internal static Process Publish(string source, string url)
    {
        var start = new ProcessStartInfo("ffmpeg") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true };
        foreach (var argument in new[] { "-hide_banner", "-loglevel", "error", "-re", "-stream_loop", "-1", "-i", source, "-c", "copy", "-f", "flv", url })
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start)!;
        process.StandardInput.Close();
        process.ErrorDataReceived += (_, _) => { };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        return process;
    }

    /// <summary>The publisher's input: 20 s of 1080p60 test pattern and tone, encoded once and kept in the temp folder.</summary>
    internal static Task<string> SourceAsync() => EncodedSourceAsync("1920x1080", 60, "6M", "veryfast", "128k");

    /// <summary>
    /// 20 s of test pattern and tone (<paramref name="size"/> at <paramref name="rate"/> fps, a 2 s GOP, H.264 at
    /// <paramref name="videoBitrate"/>, AAC), encoded once and kept in the temp folder for the next runs.
    /// </summary>
    internal static async Task<string> EncodedSourceAsync(string size, int rate, string videoBitrate, string preset, string audioBitrate)
    {
        var height = size[(size.IndexOf('x', StringComparison.Ordinal) + 1)..];
        var path = Path.Combine(Path.GetTempPath(), $"pasar-bench-{height}p{rate}-{videoBitrate}-gop{2 * rate}.flv");
        if (File.Exists(path))
        {
            return path;
        }

        var buffer = videoBitrate.EndsWith('M') ? $"{2 * int.Parse(videoBitrate[..^1], Inv)}M" : $"{2 * int.Parse(videoBitrate[..^1], Inv)}k";
        var (exit, output) = await LocalServers.RunAsync("ffmpeg",
        [
            "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", $"testsrc2=size={size}:rate={rate}", "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000",
            "-t", "20", "-c:v", "libx264", "-preset", preset, "-b:v", videoBitrate, "-maxrate", videoBitrate, "-bufsize", buffer,
            "-g", $"{2 * rate}", "-keyint_min", $"{2 * rate}", "-sc_threshold", "0", "-pix_fmt", "yuv420p",
            "-c:a", "aac", "-b:a", audioBitrate, "-f", "flv", path + ".tmp",
        ], TimeSpan.FromMinutes(10));
        if (exit != 0)
        {
            throw new InvalidOperationException("Could not encode the benchmark source: " + output);
        }

        File.Move(path + ".tmp", path);
        return path;
    }

    internal static string FfmpegVersion()
    {
        using var process = Process.Start(new ProcessStartInfo("ffmpeg", "-hide_banner -version") { RedirectStandardOutput = true, UseShellExecute = false })!;
        var first = process.StandardOutput.ReadLine() ?? "ffmpeg";
        process.WaitForExit();
        return string.Join(' ', first.Split(' ').Take(3));
    }

    private sealed record Row(string Target, string Renditions, int Streams, double Speed, double ToPlayable, double P50, double P95, double CpuPerStream)
    {
        public bool RealTime => Speed >= 0.95 && P95 < 10;

        public string Markdown =>
            string.Create(Inv, $"| {Target} | {Renditions} | {Streams} | {Speed:F2}× | {(RealTime ? "yes" : "no")} | {ToPlayable:F1} | {P50:F1} / {P95:F1} | {CpuPerStream:F0} |");
    }

    /// <summary>One stream: where it is published, which playlists to poll, and what was seen when.</summary>
    private sealed class StreamWatch(string publishUrl, Uri master, Uri[] mediaPlaylists)
    {
        private readonly Dictionary<Uri, (HashSet<string> Seen, double Content, double SteadyContent)> _state = mediaPlaylists.ToDictionary(u => u, _ => (new HashSet<string>(), 0.0, 0.0));

        public string PublishUrl { get; } = publishUrl;
        public long PublishedAt { get; set; }
        public double? ToPlayable { get; private set; }
        public List<double> Lags { get; } = [];

        /// <summary>Content seconds per wall second in the steady part, for the slowest rendition.</summary>
        public double Speed(TimeSpan steadyWindow) => _state.Values.Min(s => s.SteadyContent) / steadyWindow.TotalSeconds;

        public async Task PollAsync(HttpClient http, TimeSpan steadyFrom, CancellationToken ct)
        {
            while (!ct.IsCancellationRequested)
            {
                try
                {
                    var now = Stopwatch.GetElapsedTime(PublishedAt);
                    if (ToPlayable is null && (await http.GetAsync(master, ct)).StatusCode == HttpStatusCode.OK)
                    {
                        ToPlayable = Stopwatch.GetElapsedTime(PublishedAt).TotalSeconds;
                    }

                    foreach (var playlist in mediaPlaylists)
                    {
                        var response = await http.GetAsync(playlist, ct);
                        if (response.StatusCode != HttpStatusCode.OK)
                        {
                            continue;
                        }

                        var text = await response.Content.ReadAsStringAsync(ct);
                        var seenAt = Stopwatch.GetElapsedTime(PublishedAt).TotalSeconds;
                        var state = _state[playlist];
                        double? duration = null;
                        foreach (var line in text.Split('\n'))
                        {
                            if (line.StartsWith("#EXTINF:", StringComparison.Ordinal))
                            {
                                duration = double.Parse(line.AsSpan(8, line.IndexOf(',', StringComparison.Ordinal) - 8), Inv);
                            }
                            else if (line.Length > 0 && !line.StartsWith('#') && duration is { } d && state.Seen.Add(line.Trim()))
                            {
                                state.Content += d;
                                if (now >= steadyFrom)
                                {
                                    state.SteadyContent += d;
                                }

                                if (playlist == mediaPlaylists[0] && now >= TimeSpan.FromSeconds(1))
                                {
                                    // The publisher sends in real time from PublishedAt, so this segment's newest frame left it at Content seconds.
                                    Lags.Add(seenAt - state.Content);
                                }
                            }
                        }

                        _state[playlist] = state;
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or OperationCanceledException)
                {
                }

                try
                {
                    await Task.Delay(100, ct);
                }
                catch (OperationCanceledException)
                {
                }
            }
        }
    }
}
