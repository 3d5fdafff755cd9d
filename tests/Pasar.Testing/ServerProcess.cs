using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;

namespace Pasar.Testing;

/// <summary>
/// Pasar.Server as a separate OS process, for what an in-process host cannot show: a kill -9 in the middle of
/// work, and starting again on the same data.
/// </summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly System.Text.StringBuilder _output = new();
    private volatile bool _killed;

    private ServerProcess(Process process, Uri baseAddress)
    {
        _process = process;
        BaseAddress = baseAddress;
    }

    public Uri BaseAddress { get; }

    public int ProcessId => _process.Id;

    /// <summary>Whether the server process ended (it must not, whatever a store does).</summary>
    public bool HasExited => _process.HasExited;

    public double CpuSeconds() => ProcessStats.Seconds(_process.Id);

    public double PeakRssMb() => ProcessStats.PeakRssMb(_process.Id);

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static Task<ServerProcess> StartAsync(IReadOnlyDictionary<string, string?> settings, int port) =>
        StartAsync(settings, new Uri($"http://127.0.0.1:{port}"), [$"--urls=http://127.0.0.1:{port}"], new Dictionary<string, string?>());

    /// <summary>
    /// Starts the server with no <c>--urls</c>, so that only <paramref name="environment"/> (for example
    /// <c>ASPNETCORE_URLS</c> or <c>ASPNETCORE_HTTP_PORTS</c>) says where it listens; it is probed at <paramref name="baseAddress"/>.
    /// </summary>
    public static Task<ServerProcess> StartWithEnvironmentAsync(
        IReadOnlyDictionary<string, string?> settings, Uri baseAddress, IReadOnlyDictionary<string, string?> environment) =>
        StartAsync(settings, baseAddress, [], environment);

    /// <summary>
    /// Runs one of the server's commands (for example <c>storage upload-replays</c>) to its end, as an operator runs
    /// it on a node: the same assembly, settings in the environment. Returns its exit code and everything it printed.
    /// </summary>
    public static Task<(int ExitCode, string Output)> RunCommandAsync(IReadOnlyDictionary<string, string?> settings, IReadOnlyList<string> args, TimeSpan timeout) =>
        LocalServers.RunAsync(StartInfo(settings, args, new Dictionary<string, string?>()), timeout);

    private static async Task<ServerProcess> StartAsync(
        IReadOnlyDictionary<string, string?> settings, Uri baseAddress, IReadOnlyList<string> args, IReadOnlyDictionary<string, string?> environment)
    {
        var process = Process.Start(StartInfo(settings, args, environment))!;
        var server = new ServerProcess(process, baseAddress);
        process.OutputDataReceived += (_, e) => server.Append(e.Data);
        process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        using var probe = new HttpClient { BaseAddress = server.BaseAddress, Timeout = TimeSpan.FromSeconds(2) };
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"Pasar.Server exited with {process.ExitCode}: {server.Output}");
            }

            try
            {
                // Healthy, and answered by this process: not by another test's server on a reused port.
                if ((await probe.GetAsync("/healthz")).IsSuccessStatusCode && LocalServers.Listens(process.Id, baseAddress.Port))
                {
                    return server;
                }
            }
            catch (HttpRequestException)
            {
            }
            catch (TaskCanceledException)
            {
            }

            await Task.Delay(100);
        }

        process.Kill(entireProcessTree: true);
        throw new TimeoutException($"Pasar.Server did not become healthy: {server.Output}");
    }

    private static ProcessStartInfo StartInfo(IReadOnlyDictionary<string, string?> settings, IReadOnlyList<string> args, IReadOnlyDictionary<string, string?> environment)
    {
        var dll = ServerAssemblyPath();
        // Started in its own folder, as a deployment runs it, so that its appsettings.json is read.
        var psi = new ProcessStartInfo("dotnet")
        {
            UseShellExecute = false,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = Path.GetDirectoryName(dll)!,
        };
        psi.ArgumentList.Add(dll);
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        // The address comes from the arguments or from the test's own environment, never from the runner's.
        foreach (var inherited in new[] { "ASPNETCORE_URLS", "ASPNETCORE_HTTP_PORTS", "ASPNETCORE_HTTPS_PORTS", "DOTNET_URLS" })
        {
            psi.Environment.Remove(inherited);
        }

        // The demo show's ffmpeg never shares a test's cores, unless the test asks for the show.
        psi.Environment["Pasar__Demo__LiveShow"] = "false";
        foreach (var (key, value) in settings)
        {
            psi.Environment[key.Replace(":", "__", StringComparison.Ordinal)] = value;
        }

        foreach (var (key, value) in environment)
        {
            psi.Environment[key] = value;
        }

        psi.Environment["Logging__LogLevel__Default"] = "Warning";
        return psi;
    }

    /// <summary>SIGTERM, as a service manager or Ctrl+C stops it, then waits for the process to exit.</summary>
    public async Task StopAsync(TimeSpan timeout)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false })!;
        await kill.WaitForExitAsync();
        using var cts = new CancellationTokenSource(timeout);
        await _process.WaitForExitAsync(cts.Token);
    }

    /// <summary>The ids of this server's child processes running <paramref name="name"/> (Linux /proc).</summary>
    public IReadOnlyList<int> Children(string name) => LocalServers.ChildProcesses(_process.Id, name);

    /// <summary>SIGKILL: no shutdown hooks, no flushing, exactly like a crash.</summary>
    public void Kill()
    {
        _killed = true;
        _process.Kill(entireProcessTree: true);
        _process.WaitForExit(10_000);
    }

    public HttpClient NewClient(string? token = null)
    {
        var client = new HttpClient(new ExitReportingHandler(this)) { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        if (token is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return client;
    }

    public async Task<string> TokenAsync(string userId, string role)
    {
        using var client = NewClient();
        var body = await (await client.PostAsJsonAsync("/api/dev/tokens", new { userId, role })).Content.ReadFromJsonAsync<JsonElement>();
        return body.GetProperty("token").GetString()!;
    }

    private void Append(string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (_output)
        {
            // The end matters most when the process died: keep the newest 200k characters.
            _output.AppendLine(line);
            if (_output.Length > 200_000)
            {
                _output.Remove(0, _output.Length - 150_000);
            }
        }
    }

    /// <summary>The server's own build output, next to this test project in the same configuration.</summary>
    private static string ServerAssemblyPath()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        var configuration = dir.Parent!.Name; // bin/<Configuration>/net10.0/
        var root = dir;
        while (root is not null && !File.Exists(Path.Combine(root.FullName, "Pasar.slnx")))
        {
            root = root.Parent;
        }

        if (root is null)
        {
            throw new InvalidOperationException("Cannot find the repository root (Pasar.slnx) above " + AppContext.BaseDirectory);
        }

        var path = Path.Combine(root.FullName, "src", "Pasar.Server", "bin", configuration, "net10.0", "Pasar.Server.dll");
        return File.Exists(path) ? path : throw new FileNotFoundException("Build Pasar.Server first", path);
    }

    /// <summary>
    /// A request that cannot connect because the server died says so, with the server's last output, instead of
    /// a bare "connection refused".
    /// </summary>
    private sealed class ExitReportingHandler(ServerProcess server) : DelegatingHandler(new HttpClientHandler())
    {
        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            try
            {
                return await base.SendAsync(request, cancellationToken);
            }
            catch (HttpRequestException e) when (server._process.HasExited && !server._killed)
            {
                var output = server.Output;
                throw new HttpRequestException(
                    $"{e.Message} — Pasar.Server exited unexpectedly with {server._process.ExitCode}; its last output:\n{output[Math.Max(0, output.Length - 20_000)..]}", e);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
