using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

[assembly: AssemblyFixture(typeof(Pasar.Server.Tests.Infrastructure.ExternalServers))]

namespace Pasar.Server.Tests.Infrastructure;

/// <summary>
/// A real PostgreSQL and a real Redis for the scaled-out backend pair, started once for the test run on
/// loopback ports in temp folders. When a server is not installed its tests are skipped, except under
/// CI=true, where a missing server fails the run.
/// </summary>
public sealed class ExternalServers : IAsyncLifetime
{
    public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    public static ExternalServers Current { get; private set; } = null!;

    public PostgresServer? Postgres { get; private set; }
    public RedisServer? Redis { get; private set; }
    public string? PostgresMissing { get; private set; }
    public string? RedisMissing { get; private set; }

    public async ValueTask InitializeAsync()
    {
        Current = this;
        var pg = Task.Run(PostgresServer.StartAsync);
        var redis = Task.Run(RedisServer.StartAsync);
        try
        {
            Postgres = await pg;
        }
        catch (ServerUnavailableException ex)
        {
            PostgresMissing = ex.Message;
        }

        try
        {
            Redis = await redis;
        }
        catch (ServerUnavailableException ex)
        {
            RedisMissing = ex.Message;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Postgres is not null)
        {
            await Postgres.DisposeAsync();
        }

        if (Redis is not null)
        {
            await Redis.DisposeAsync();
        }
    }

    /// <summary>Skips the calling test when the scaled backend is not available (fails it under CI).</summary>
    public void RequireScaled()
    {
        var missing = PostgresMissing ?? RedisMissing;
        if (missing is null)
        {
            return;
        }

        if (InCi)
        {
            Assert.Fail($"CI=true but a server for the PostgreSQL + Redis backend is missing: {missing}");
        }

        Assert.Skip($"PostgreSQL + Redis backend unavailable here: {missing}");
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    internal static string? Which(string program)
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

    internal static async Task<(int ExitCode, string Output)> RunAsync(string file, IEnumerable<string> args, TimeSpan timeout)
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

    public string AdminConnectionString => $"Host=127.0.0.1;Port={Port};Username=postgres;Database=postgres;Pooling=false";

    public string ConnectionString(string database) => $"Host=127.0.0.1;Port={Port};Username=postgres;Database={database};Maximum Pool Size=60;Timeout=30;Command Timeout=60";

    public static async Task<PostgresServer> StartAsync()
    {
        var initdb = ExternalServers.Which("initdb") ?? throw new ServerUnavailableException("initdb not found on PATH");
        var pgCtl = ExternalServers.Which("pg_ctl") ?? throw new ServerUnavailableException("pg_ctl not found on PATH");
        var asRoot = Environment.UserName == "root";
        var dir = Path.Combine(Path.GetTempPath(), "pasar-pg-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        if (asRoot)
        {
            await ExternalServers.RunAsync("chown", ["postgres:postgres", dir], TimeSpan.FromSeconds(10));
        }

        var data = Path.Combine(dir, "data");
        var port = ExternalServers.FreePort();
        var server = new PostgresServer(dir, pgCtl, asRoot, port);
        var init = await server.AsOwnerAsync(initdb, ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"], TimeSpan.FromMinutes(2));
        if (init.ExitCode != 0)
        {
            throw new ServerUnavailableException($"initdb failed: {init.Output}");
        }

        var options = $"-p {port} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=400 -c shared_buffers=128MB";
        var start = await server.AsOwnerAsync(pgCtl, ["-D", data, "-o", options, "-l", Path.Combine(dir, "log"), "-w", "-t", "60", "start"], TimeSpan.FromMinutes(2));
        if (start.ExitCode != 0)
        {
            throw new ServerUnavailableException($"pg_ctl start failed: {start.Output} {TryRead(Path.Combine(dir, "log"))}");
        }

        return server;
    }

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
            ? ExternalServers.RunAsync("runuser", ["-u", "postgres", "--", program, .. args], timeout)
            : ExternalServers.RunAsync(program, args, timeout);

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

    public static async Task<RedisServer> StartAsync()
    {
        var redis = ExternalServers.Which("redis-server") ?? throw new ServerUnavailableException("redis-server not found on PATH");
        var port = ExternalServers.FreePort();
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
