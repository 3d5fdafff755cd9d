using System.Diagnostics;
using System.Text;

namespace Pasar.Web.Tests;

/// <summary>
/// Runs one scenario of <c>web/e2e/run.mjs</c> (playwright-core driving Debian's chromium) against a server.
/// Without node, chromium or the built app the scenario is skipped locally and fails under CI=true.
/// </summary>
public static class BrowserScenario
{
    private static readonly bool OnCi = string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    public static string? Chromium { get; } = Environment.GetEnvironmentVariable("CHROMIUM") is { Length: > 0 } path ? path : FindOnPath("chromium");

    public static string? Node { get; } = FindOnPath("node");

    public static string? Ffmpeg { get; } = FindOnPath("ffmpeg");

    /// <summary>Skips (or, under CI, fails) when something a browser test needs is not installed.</summary>
    public static void RequireTools(bool ffmpeg = false)
    {
        var missing = new List<string>();
        if (Node is null)
        {
            missing.Add("node (apt-get install nodejs npm)");
        }

        if (Chromium is null)
        {
            missing.Add("chromium (apt-get install chromium)");
        }

        if (!File.Exists(Path.Combine(Repo.WebDist, "index.html")))
        {
            missing.Add("the built web app (cd web && npm ci && npm run build)");
        }

        if (!Directory.Exists(Path.Combine(Repo.Web, "node_modules", "playwright-core")))
        {
            missing.Add("web/node_modules (cd web && npm ci)");
        }

        if (ffmpeg && Ffmpeg is null)
        {
            missing.Add("ffmpeg (apt-get install ffmpeg)");
        }

        if (missing.Count == 0)
        {
            return;
        }

        var message = "Browser tests need: " + string.Join(", ", missing);
        if (OnCi)
        {
            Assert.Fail(message);
        }

        Assert.Skip(message);
    }

    /// <summary>Skips a scenario whose server feature has not landed yet, saying which.</summary>
    public static void RequireFeature(WebServer server, string routePrefix, string feature)
    {
        if (!server.HasRoute(routePrefix))
        {
            Assert.Skip($"Waits on the server: {feature} ({routePrefix} is not mapped yet).");
        }
    }

    public static async Task<string> RunAsync(WebServer server, string scenario, TimeSpan? timeout = null)
    {
        var psi = new ProcessStartInfo(Node!)
        {
            WorkingDirectory = Repo.Web,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        psi.ArgumentList.Add(Path.Combine("e2e", "run.mjs"));
        psi.ArgumentList.Add(server.BaseAddress.ToString().TrimEnd('/'));
        psi.ArgumentList.Add(scenario);
        psi.Environment["CHROMIUM"] = Chromium;
        psi.Environment["SCREENSHOTS"] = Repo.Screenshots;
        psi.Environment["RTMP_PORT"] = server.RtmpPort.ToString(System.Globalization.CultureInfo.InvariantCulture);

        var output = new StringBuilder();
        using var process = new Process { StartInfo = psi };
        process.OutputDataReceived += (_, e) => Append(output, e.Data);
        process.ErrorDataReceived += (_, e) => Append(output, e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cts.CancelAfter(timeout ?? TimeSpan.FromMinutes(3));
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"Scenario {scenario} did not finish in time:\n{Text(output)}");
        }

        process.WaitForExit(); // drains the output readers
        var text = Text(output);
        TestContext.Current.TestOutputHelper?.WriteLine(text);
        Assert.True(process.ExitCode == 0 && text.Contains($"PASS {scenario}", StringComparison.Ordinal), $"Scenario {scenario} failed (exit {process.ExitCode}):\n{text}");
        return text;
    }

    private static void Append(StringBuilder output, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (output)
        {
            output.AppendLine(line);
        }
    }

    private static string Text(StringBuilder output)
    {
        lock (output)
        {
            return output.ToString();
        }
    }

    private static string? FindOnPath(string name)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var candidate = Path.Combine(dir, name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
