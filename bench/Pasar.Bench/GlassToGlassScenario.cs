using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using System.Text.Json;
using Pasar.Testing;

namespace Pasar.Bench;

/// <summary>
/// Issue 14: glass-to-glass latency in Chromium on Pasar's own <c>/live/{id}</c> page, for the passthrough rendition
/// packaged in-process as LL-HLS (hls.js low-latency mode) and through ffmpeg's MPEG-TS HLS (the flag off), one after
/// the other in the same run. The publisher (ffmpeg <c>-re</c>, 640x360 at 30 fps, x264 zerolatency, 2 s GOP) burns
/// its frame number into the picture; <c>browser/glass.mjs</c> reads the frame on screen and compares it with the
/// publisher's clock. The publisher's start is taken when ffmpeg is spawned, so its start-up time (a few hundred ms)
/// counts as latency: the figures err high.
/// </summary>
public static class GlassToGlassScenario
{
    private const int Fps = 30;
    private static readonly CultureInfo Inv = CultureInfo.InvariantCulture;

    public static async Task RunAsync(TimeSpan duration)
    {
        Console.WriteLine($"Pasar.Bench llhls-latency: {duration.TotalSeconds} s of samples per row (every 250 ms), 640x360 at {Fps} fps, " +
            $"{Environment.ProcessorCount} cores, load average at start {IngestScenario.LoadAverage()}");
        Console.WriteLine();
        Console.WriteLine("| packaging | player | samples | glass-to-glass median, s | p95, s | waiting events |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|");
        Console.WriteLine(await MeasureAsync(lowLatency: true, duration));
        Console.WriteLine(await MeasureAsync(lowLatency: true, duration, rung: "360p30"));
        Console.WriteLine(await MeasureAsync(lowLatency: false, duration));
        Console.WriteLine();
        Console.WriteLine($"load average at the end {IngestScenario.LoadAverage()}");
    }

    /// <param name="rung">
    /// A transcoded rung to watch instead of the passthrough rendition: the publisher sends 1280x720 (the code bars
    /// twice as large), the ladder has that rung (640x360, so the bars land where the reader looks), and the player is
    /// given a master playlist with only that rung.
    /// </param>
    private static async Task<string> MeasureAsync(bool lowLatency, TimeSpan duration, string? rung = null)
    {
        var k = rung is null ? 1 : 2;
        var rtmpPort = LocalServers.FreePort();
        await using var target = await BenchTarget.StartAsync("embedded", new Dictionary<string, string?>
        {
            ["Pasar:Rtmp:Port"] = rtmpPort.ToString(Inv),
            ["Pasar:Live:Ladder"] = rung ?? "",
            ["Pasar:Live:LowLatencyPassthrough"] = lowLatency ? "true" : "false",
            ["Pasar:Web:Root"] = Path.Combine(RepoRoot(), "src", "Pasar.Server", "wwwroot", "dist"), // npm --prefix web run build
            ["Pasar:RateLimits:Enabled"] = "false",
        });
        using var seller = target.Server.NewClient(await target.Server.TokenAsync("bench-seller", "seller"));
        var created = await (await seller.PostAsJsonAsync("/api/live/sessions", new { title = "glass" })).Content.ReadFromJsonAsync<JsonElement>();
        var id = created.GetProperty("id").GetString()!;
        var key = created.GetProperty("streamKey").GetString()!;

        var startMs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        using var publisher = Start("ffmpeg",
        [
            "-hide_banner", "-loglevel", "error", "-re",
            "-f", "lavfi", "-i", $"testsrc2=size={640 * k}x{360 * k}:rate={Fps}", "-f", "lavfi", "-i", "sine=frequency=440",
            "-filter_complex", $"color=c=black:s={640 * k}x{24 * k}:r={Fps},format=gray,geq=lum='255*mod(floor(N/pow(2\\,floor(X/{32 * k})))\\,2)'[code];[0:v][code]overlay=0:0:shortest=1,format=yuv420p[v]",
            "-map", "[v]", "-map", "1:a",
            "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", (2 * Fps).ToString(Inv),
            "-c:a", "aac", "-f", "flv", $"rtmp://127.0.0.1:{rtmpPort}/live/{key}",
        ]);
        try
        {
            var script = Path.Combine(RepoRoot(), "bench", "Pasar.Bench", "browser", "glass.mjs");
            using var node = Start("node", [script, new Uri(target.Server.BaseAddress, $"/live/{id}").ToString(), startMs.ToString(Inv), Fps.ToString(Inv), duration.TotalSeconds.ToString(Inv), rung ?? ""]);
            var output = await node.StandardOutput.ReadToEndAsync();
            var errors = await node.StandardError.ReadToEndAsync();
            await node.WaitForExitAsync();
            var line = output.Split('\n').LastOrDefault(l => l.StartsWith('{'));
            if (node.ExitCode != 0 || line is null)
            {
                return $"| {(lowLatency ? "LL-HLS" : "MPEG-TS HLS")} | failed | | | | {errors.Trim().Replace('\n', ' ')} |";
            }

            var result = JsonDocument.Parse(line).RootElement;
            var samples = result.GetProperty("samples").EnumerateArray().Select(e => e.GetDouble()).Order().ToArray();
            var player = result.GetProperty("mode").GetString() == "true" ? "hls.js lowLatencyMode" : "hls.js (3 segments behind)";
            var packaging = (lowLatency, rung) switch
            {
                (true, null) => "in-process LL-HLS over CMAF (0.333 s parts), passthrough",
                (true, { } r) => $"in-process LL-HLS over CMAF, transcoded rung {r} (ffmpeg x264 zerolatency)",
                _ => "ffmpeg MPEG-TS HLS (2 s segments)",
            };
            return string.Create(Inv, $"| {packaging} | {player} | {samples.Length} | " +
                $"{LoadRunner.Percentile(samples, 0.5):F2} | {LoadRunner.Percentile(samples, 0.95):F2} | {result.GetProperty("waiting").GetInt32()} |");
        }
        finally
        {
            publisher.Kill(entireProcessTree: true);
            await publisher.WaitForExitAsync();
        }
    }

    private static Process Start(string file, IEnumerable<string> arguments)
    {
        var start = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        var process = Process.Start(start)!;
        process.StandardInput.Close();
        return process;
    }

    private static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Pasar.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Run the benchmark from the repository's build output.");
    }
}
