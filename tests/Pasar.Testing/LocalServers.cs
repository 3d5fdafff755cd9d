using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Pasar.Testing;

/// <summary>Small process and port helpers shared by the server launchers.</summary>
public static class LocalServers
{
    public static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public static string? Which(string program)
    {
        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
                     .Concat(["/usr/lib/postgresql/15/bin", "/usr/lib/postgresql/16/bin", "/usr/lib/postgresql/17/bin", "/usr/sbin", "/usr/bin"]))
        {
            var path = Path.Combine(dir, program);
            if (File.Exists(path))
            {
                return path;
            }
        }

        return null;
    }

    public static async Task<(int ExitCode, string Output)> RunAsync(string file, IEnumerable<string> args, TimeSpan timeout)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var process = Process.Start(psi)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        await process.WaitForExitAsync(cts.Token);
        return (process.ExitCode, await stdout + await stderr);
    }
}

public sealed class ServerUnavailableException(string message) : Exception(message);

/// <summary>A throwaway PostgreSQL cluster: initdb + pg_ctl in a temp folder, as the postgres user when run as root.</summary>
public sealed class PostgresServer : IAsyncDisposable
{
    private readonly string _dir;
    private readonly string _pgCtl;
    private readonly bool _asPostgresUser;

    private PostgresServer(string dir, string pgCtl, bool asPostgresUser, int port)
    {
        _dir = dir;
        _pgCtl = pgCtl;
        _asPostgresUser = asPostgresUser;
        Port = port;
    }

    public int Port { get; }

    /// <summary>CPU seconds of the postmaster and its backends so far.</summary>
    public double CpuSeconds()
    {
        var pidFile = Path.Combine(_dir, "data", "postmaster.pid");
        return File.Exists(pidFile) && int.TryParse(File.ReadLines(pidFile).First(), out var pid) ? ProcessStats.Seconds(pid) : 0;
    }

    public string AdminConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres;Pooling=false";

    public string ConnectionString(string database) => $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database};Maximum Pool Size=60;Timeout=30;Command Timeout=60";

    public static async Task<PostgresServer> StartAsync()
    {
        var initdb = LocalServers.Which("initdb") ?? throw new ServerUnavailableException("initdb not found on PATH");
        var pgCtl = LocalServers.Which("pg_ctl") ?? throw new ServerUnavailableException("pg_ctl not found on PATH");
        var asRoot = Environment.UserName == "root";
        var dir = Path.Combine(Path.GetTempPath(), "pasar-pg-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        if (asRoot)
        {
            await LocalServers.RunAsync("chown", ["postgres:postgres", dir], TimeSpan.FromSeconds(10));
        }

        var data = Path.Combine(dir, "data");
        var port = LocalServers.FreePort();
        var server = new PostgresServer(dir, pgCtl, asRoot, port);
        var init = await server.AsOwnerAsync(initdb, ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"], TimeSpan.FromMinutes(2));
        if (init.ExitCode != 0)
        {
            throw new ServerUnavailableException($"initdb failed: {init.Output}");
        }

        await server.StartClusterAsync();
        return server;
    }

    private async Task StartClusterAsync()
    {
        var options = $"-p {Port} -k {_dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400 -c shared_buffers=128MB";
        var start = await AsOwnerAsync(_pgCtl, ["-D", Path.Combine(_dir, "data"), "-o", options, "-l", Path.Combine(_dir, "log"), "-w", "-t", "60", "start"], TimeSpan.FromMinutes(2));
        if (start.ExitCode != 0)
        {
            throw new ServerUnavailableException($"pg_ctl start failed: {start.Output} {TryRead(Path.Combine(_dir, "log"))}");
        }
    }

    /// <summary>An outage: <c>pg_ctl stop -m fast</c> (open sessions are ended, new ones refused) until <see cref="StartAgainAsync"/>.</summary>
    public async Task StopAsync()
    {
        var stop = await AsOwnerAsync(_pgCtl, ["-D", Path.Combine(_dir, "data"), "-m", "fast", "-w", "-t", "60", "stop"], TimeSpan.FromMinutes(1));
        if (stop.ExitCode != 0)
        {
            throw new InvalidOperationException($"pg_ctl stop failed: {stop.Output}");
        }
    }

    /// <summary>Starts the cluster again on the same port and data after <see cref="StopAsync"/>.</summary>
    public Task StartAgainAsync() => StartClusterAsync();

    /// <summary>A new empty database for one test app.</summary>
    public async Task<string> CreateDatabaseAsync()
    {
        var name = "pasar_" + Guid.NewGuid().ToString("N")[..12];
        await using var c = new Npgsql.NpgsqlConnection(AdminConnectionString);
        await c.OpenAsync();
        await using var cmd = c.CreateCommand();
        cmd.CommandText = $"CREATE DATABASE {name}";
        await cmd.ExecuteNonQueryAsync();
        return ConnectionString(name);
    }

    private Task<(int ExitCode, string Output)> AsOwnerAsync(string program, string[] args, TimeSpan timeout) =>
        _asPostgresUser
            ? LocalServers.RunAsync("runuser", ["-u", "postgres", "--", program, .. args], timeout)
            : LocalServers.RunAsync(program, args, timeout);

    private static string TryRead(string path) => File.Exists(path) ? File.ReadAllText(path) : "";

    public async ValueTask DisposeAsync()
    {
        await AsOwnerAsync(_pgCtl, ["-D", Path.Combine(_dir, "data"), "-m", "immediate", "-w", "stop"], TimeSpan.FromMinutes(1));
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

/// <summary>A throwaway redis-server on a loopback port, no persistence.</summary>
public sealed class RedisServer : IAsyncDisposable
{
    private readonly Process _process;

    private RedisServer(Process process, int port)
    {
        _process = process;
        Port = port;
    }

    public int Port { get; }

    public string ConnectionString => $"127.0.0.1:{Port}";

    public double CpuSeconds() => ProcessStats.Seconds(_process.Id);

    public static async Task<RedisServer> StartAsync()
    {
        var redis = LocalServers.Which("redis-server") ?? throw new ServerUnavailableException("redis-server not found on PATH");
        var port = LocalServers.FreePort();
        var psi = new ProcessStartInfo(redis) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--maxclients", "10000" })
        {
            psi.ArgumentList.Add(a);
        }

        var process = Process.Start(psi)!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        for (var i = 0; i < 100; i++)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return new RedisServer(process, port);
            }
            catch (SocketException)
            {
                await Task.Delay(50);
            }
        }

        process.Kill();
        throw new ServerUnavailableException("redis-server did not start listening");
    }

    public ValueTask DisposeAsync()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
        return ValueTask.CompletedTask;
    }
}
