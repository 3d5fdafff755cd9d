using System.Diagnostics;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Pasar.Server.Live;
using Pasar.Server.Tests.Infrastructure;
using Pasar.Testing;

namespace Pasar.Server.Tests.Live;

/// <summary>Live tests that run ffmpeg encoders take turns, so that each gets the CPU it needs to stay real time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FfmpegCollection
{
    public const string Name = "ffmpeg";
}

/// <summary>ffmpeg as a publisher and ffprobe as a checker; missing tools skip locally and fail under CI=true.</summary>
internal static class Ffmpeg
{
    public static string Require(string tool)
    {
        var path = LocalServers.Which(tool);
        if (path is not null)
        {
            return path;
        }

        if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
        {
            Assert.Fail($"{tool} is not installed; CI must install it.");
        }

        Assert.Skip($"{tool} is not installed.");
        return null!;
    }

    /// <summary>Starts <c>ffmpeg -re</c> publishing a test pattern and a tone for <paramref name="seconds"/>.</summary>
    public static Publisher Publish(int port, string key, double seconds, string size = "640x360", int rate = 30, int? gop = null)
    {
        var start = new ProcessStartInfo(Require("ffmpeg"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[]
        {
            "-hide_banner", "-loglevel", "error", "-re",
            "-f", "lavfi", "-i", $"testsrc2=size={size}:rate={rate}",
            "-f", "lavfi", "-i", "sine=frequency=440",
            "-t", seconds.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-c:v", "libx264", "-preset", "ultrafast", "-g", (gop ?? 2 * rate).ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-c:a", "aac", "-f", "flv", $"rtmp://127.0.0.1:{port}/live/{key}",
        })
        {
            start.ArgumentList.Add(argument);
        }

        return new Publisher(Process.Start(start)!);
    }

    public static async Task<(int ExitCode, string Output)> RunAsync(string tool, IEnumerable<string> arguments, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(Require(tool)) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{tool} did not finish within {timeout}");
        }

        return (process.ExitCode, await stdout + await stderr);
    }

    /// <summary>
    /// A segment a decoder can open on its own: a TS segment as it is; a CMAF segment after its init segment (the
    /// playlist's <c>EXT-X-MAP</c> before it), in a temporary file the caller deletes.
    /// </summary>
    public static string StandaloneSegment(string directory, string playlist, string segment)
    {
        var path = Path.Combine(directory, segment);
        if (!segment.EndsWith(".m4s", StringComparison.Ordinal))
        {
            return path;
        }

        var before = playlist[..playlist.IndexOf("\n" + segment, StringComparison.Ordinal)];
        var map = before[(before.LastIndexOf("#EXT-X-MAP:URI=\"", StringComparison.Ordinal) + 16)..];
        var init = map[..map.IndexOf('"', StringComparison.Ordinal)];
        var file = Path.Combine(Path.GetTempPath(), $"{Guid.NewGuid():N}.mp4");
        File.WriteAllBytes(file, [.. File.ReadAllBytes(Path.Combine(directory, init)), .. File.ReadAllBytes(path)]);
        return file;
    }

    /// <summary>ffprobe's JSON for the streams and format of one file.</summary>
    public static async Task<JsonElement> ProbeAsync(string file)
    {
        var (exit, output) = await RunAsync("ffprobe",
            ["-v", "error", "-show_entries", "stream=codec_type,codec_name,profile,level,width,height,r_frame_rate:format=duration,size", "-of", "json", file],
            TimeSpan.FromSeconds(30));
        Assert.True(exit == 0, $"ffprobe {file}: {output}");
        return JsonDocument.Parse(output).RootElement.Clone();
    }
}

/// <summary>A running ffmpeg publisher.</summary>
internal sealed class Publisher : IAsyncDisposable
{
    private readonly Process _process;
    private readonly Task<string> _stderr;

    public Publisher(Process process)
    {
        _process = process;
        _process.StandardInput.Close();
        _ = process.StandardOutput.ReadToEndAsync();
        _stderr = process.StandardError.ReadToEndAsync();
    }

    public bool HasExited => _process.HasExited;

    public int ProcessId => _process.Id;

    public async Task<(int ExitCode, string Output)> WaitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
        return (_process.ExitCode, await _stderr);
    }

    /// <summary>SIGKILL: the TCP connection drops without an unpublish, as when a phone loses its network.</summary>
    public void Kill()
    {
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10_000);
    }

    public ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Kill();
        }

        _process.Dispose();
        return ValueTask.CompletedTask;
    }
}

internal static class LiveApp
{
    public static Task<PasarApp> StartAsync(Backend backend, Action<Dictionary<string, string?>>? configure = null) =>
        PasarApp.StartAsync(backend, s =>
        {
            s["Pasar:Live:ReconnectGraceSeconds"] = "30";
            configure?.Invoke(s);
        });

    public static int RtmpPort(this PasarApp app) => app.Services.GetRequiredService<RtmpEndpoint>().Port;

    public static LiveIngest Ingest(this PasarApp app) => app.Services.GetRequiredService<LiveIngest>();

    public static string HlsRoot(this PasarApp app) => app.Ingest().HlsRoot;

    public static string SessionDirectory(this PasarApp app, string id) => app.Ingest().SessionDirectory(id);

    public static async Task<(string Id, string Key)> CreateSessionAsync(this HttpClient seller, string title = "Live test")
    {
        var response = await seller.PostAsJsonAsync("/api/live/sessions", new { title });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await response.JsonAsync();
        return (body.GetProperty("id").GetString()!, body.GetProperty("streamKey").GetString()!);
    }

    public static async Task<JsonElement> SessionAsync(this HttpClient client, string id)
    {
        var response = await client.GetAsync($"/api/live/sessions/{id}");
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.JsonAsync();
    }

    public static async Task<string> StatusAsync(this HttpClient client, string id) => (await client.SessionAsync(id)).GetProperty("status").GetString()!;

    /// <summary>Segment file names of a served media playlist, in order.</summary>
    public static async Task<List<string>> SegmentsAsync(this HttpClient client, string url)
    {
        var response = await client.GetAsync(url);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            return [];
        }

        var text = await response.Content.ReadAsStringAsync();
        return [.. text.Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'))];
    }

    /// <summary>
    /// Segments recorded so far for a rendition (the whole session, not only the live window): the in-process CMAF
    /// packager's for a session packaged as LL-HLS, else ffmpeg's MPEG-TS segments.
    /// </summary>
    public static IReadOnlyList<HlsSegment> Recorded(this PasarApp app, string id, string rendition = RenditionInfo.SourceName) =>
        app.Ingest().LowLatency(id) is { } lowLatency
            ? lowLatency.Find(rendition)?.Recorded() ?? []
            : app.Ingest().Packager(id)?.Segments(rendition) ?? [];

    /// <summary>True when the session is packaged in-process as LL-HLS over CMAF.</summary>
    public static bool IsLowLatency(this PasarApp app, string id) => app.Ingest().LowLatency(id) is not null;
}
