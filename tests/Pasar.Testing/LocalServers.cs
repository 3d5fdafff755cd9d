using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Pasar.Testing;

/// <summary>Small process and port helpers shared by the server launchers.</summary>
public static class LocalServers
{
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<int, bool> IssuedPorts = new();

    /// <summary>
    /// A free loopback port, never the same one twice in this test run: a test that kills a server and starts it
    /// again on its port must not find another test's server there in between.
    /// </summary>
    public static int FreePort()
    {
        while (true)
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var port = ((IPEndPoint)listener.LocalEndpoint).Port;
            if (IssuedPorts.TryAdd(port, true))
            {
                return port;
            }
        }
    }

    /// <summary>Running children of <paramref name="parent"/> whose command name is <paramref name="name"/> (Linux /proc; none elsewhere).</summary>
    public static IReadOnlyList<int> ChildProcesses(int parent, string name)
    {
        var children = new List<int>();
        if (!Directory.Exists("/proc"))
        {
            return children;
        }

        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out var pid))
            {
                continue;
            }

            try
            {
                // /proc/pid/stat: "pid (comm) state ppid ..."; comm may hold spaces, so read around its parentheses.
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var open = stat.IndexOf('(', StringComparison.Ordinal);
                var close = stat.LastIndexOf(')');
                var fields = stat[(close + 2)..].Split(' ');
                if (stat[(open + 1)..close] == name && fields[0] != "Z" && int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture) == parent)
                {
                    children.Add(pid);
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }

        return children;
    }

    /// <summary>Whether process <paramref name="pid"/> is still running (not gone, not a zombie), on Linux.</summary>
    public static bool IsRunning(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)..][0] != 'Z';
        }
        catch (IOException)
        {
            return false;
        }
    }

    /// <summary>
    /// Whether process <paramref name="pid"/> itself holds a listening TCP socket on <paramref name="port"/>
    /// (Linux: /proc/net/tcp{,6} gives the socket's inode, /proc/pid/fd names the sockets the process holds).
    /// Elsewhere it answers true, having no way to tell.
    /// </summary>
    public static bool Listens(int pid, int port)
    {
        if (!File.Exists("/proc/net/tcp"))
        {
            return true;
        }

        var inodes = new HashSet<string>();
        foreach (var table in new[] { "/proc/net/tcp", "/proc/net/tcp6" }.Where(File.Exists))
        {
            foreach (var line in File.ReadLines(table).Skip(1))
            {
                var f = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                // sl local_address rem_address st … inode: state 0A is LISTEN.
                if (f.Length > 9 && f[3] == "0A" && Convert.ToInt32(f[1][(f[1].LastIndexOf(':') + 1)..], 16) == port)
                {
                    inodes.Add(f[9]);
                }
            }
        }

        try
        {
            return Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd")
                .Select(fd => new FileInfo(fd).LinkTarget)
                .Any(target => target is not null && target.StartsWith("socket:[", StringComparison.Ordinal) && inodes.Contains(target[8..^1]));
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
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

        return await RunAsync(psi, timeout);
    }

    /// <summary>Runs a process to its end (killed, with a TimeoutException, after <paramref name="timeout"/>): its exit code and all it printed.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(ProcessStartInfo psi, TimeSpan timeout)
    {
        using var process = Process.Start(psi)!;
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
            throw new TimeoutException($"{psi.FileName} {string.Join(' ', psi.ArgumentList)} did not finish within {timeout}: {await stdout}{await stderr}");
        }

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

/// <summary>
/// A throwaway clickhouse-server (Debian's 18.16 or newer) on loopback HTTP and TCP ports, with its data, tmp and
/// user-files folders and a minimal config.xml/users.xml (user <c>default</c>, empty password, loopback only) in a
/// temp folder. Ready when <c>/ping</c> answers; disposing kills it and deletes the folder.
/// </summary>
public sealed class ClickHouseServer : IAsyncDisposable
{
    private readonly string _dir;
    private readonly string _binary;
    private Process _process;

    private ClickHouseServer(string dir, string binary, Process process, int httpPort, int tcpPort)
    {
        _dir = dir;
        _binary = binary;
        _process = process;
        HttpPort = httpPort;
        TcpPort = tcpPort;
    }

    public int HttpPort { get; }
    public int TcpPort { get; }

    /// <summary>The HTTP interface, e.g. for <c>Pasar:Analytics:ClickHouse:Url</c>.</summary>
    public string Url => $"http://127.0.0.1:{HttpPort}";

    public double CpuSeconds() => ProcessStats.Seconds(_process.Id);

    public static async Task<ClickHouseServer> StartAsync()
    {
        var binary = LocalServers.Which("clickhouse-server") ?? throw new ServerUnavailableException("clickhouse-server not found on PATH");
        var dir = Path.Combine(Path.GetTempPath(), "pasar-ch-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(dir);
        var http = LocalServers.FreePort();
        var tcp = LocalServers.FreePort();
        File.WriteAllText(Path.Combine(dir, "users.xml"), """
            <yandex>
              <profiles><default></default></profiles>
              <users>
                <default>
                  <password></password>
                  <networks><ip>127.0.0.1</ip><ip>::1</ip></networks>
                  <profile>default</profile>
                  <quota>default</quota>
                </default>
              </users>
              <quotas><default></default></quotas>
            </yandex>
            """);
        File.WriteAllText(Path.Combine(dir, "config.xml"), $"""
            <yandex>
              <logger><level>warning</level><console>1</console></logger>
              <http_port>{http}</http_port>
              <tcp_port>{tcp}</tcp_port>
              <listen_host>127.0.0.1</listen_host>
              <path>{dir}/data/</path>
              <tmp_path>{dir}/tmp/</tmp_path>
              <user_files_path>{dir}/user_files/</user_files_path>
              <format_schema_path>{dir}/format_schemas/</format_schema_path>
              <users_config>{dir}/users.xml</users_config>
              <default_profile>default</default_profile>
              <default_database>default</default_database>
              <mark_cache_size>67108864</mark_cache_size>
            </yandex>
            """);
        var process = await LaunchAsync(binary, dir, http);
        return new ClickHouseServer(dir, binary, process, http, tcp);
    }

    private static async Task<Process> LaunchAsync(string binary, string dir, int httpPort)
    {
        var psi = new ProcessStartInfo(binary) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir };
        psi.ArgumentList.Add("--config-file=" + Path.Combine(dir, "config.xml"));
        var process = Process.Start(psi)!;
        var output = new System.Text.StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        for (var i = 0; i < 300; i++)
        {
            if (process.HasExited)
            {
                break;
            }

            try
            {
                if ((await http.GetStringAsync($"http://127.0.0.1:{httpPort}/ping")).StartsWith("Ok.", StringComparison.Ordinal))
                {
                    return process;
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

        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }

        lock (output)
        {
            throw new ServerUnavailableException($"clickhouse-server did not answer /ping: {output}");
        }
    }

    /// <summary>An outage: the server is killed (no clean shutdown) until <see cref="StartAgainAsync"/>.</summary>
    public async Task KillAsync()
    {
        _process.Kill(entireProcessTree: true);
        await _process.WaitForExitAsync();
        _process.Dispose();
    }

    /// <summary>Starts the server again on the same ports and data after <see cref="KillAsync"/>.</summary>
    public async Task StartAgainAsync() => _process = await LaunchAsync(_binary, _dir, HttpPort);

    public async ValueTask DisposeAsync()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        catch (InvalidOperationException)
        {
        }

        _process.Dispose();
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

/// <summary>
/// A throwaway OpenStack Swift with its S3 layer (s3api + tempauth) on loopback: memcached, the account, container
/// and object servers, and the proxy, all in a temp folder (<c>swift_dir</c> points there, nothing reads /etc).
/// The rings are built once per test run and copied. S3 credentials: <see cref="AccessKey"/> / <see cref="SecretKey"/>.
/// <see cref="StopProxyAsync"/> and <see cref="StartProxyAsync"/> make an outage of the S3 endpoint.
/// </summary>
public sealed class SwiftServer : IAsyncDisposable
{
    public const string AccessKey = "test:tester";
    public const string SecretKey = "testing";
    public const string Region = "us-east-1";

    private static readonly SemaphoreSlim RingsGate = new(1, 1);
    private static string? _ringsDir;

    private readonly string _dir;
    private readonly List<Process> _backends = [];
    private Process? _proxy;

    private SwiftServer(string dir, int proxyPort)
    {
        _dir = dir;
        ProxyPort = proxyPort;
    }

    public int ProxyPort { get; }

    /// <summary>The S3 endpoint, e.g. for <c>Pasar:Storage:S3:ServiceUrl</c>.</summary>
    public string ServiceUrl => $"http://127.0.0.1:{ProxyPort}";

    public static async Task<SwiftServer> StartAsync()
    {
        foreach (var program in new[] { "swift-proxy-server", "swift-account-server", "swift-container-server", "swift-object-server", "swift-ring-builder", "memcached" })
        {
            if (LocalServers.Which(program) is null)
            {
                throw new ServerUnavailableException($"{program} not found on PATH (apt-get install swift swift-proxy swift-object swift-container swift-account memcached)");
            }
        }

        var dir = Path.Combine(Path.GetTempPath(), "pasar-swift-" + Guid.NewGuid().ToString("N")[..8]);
        var etc = Path.Combine(dir, "etc");
        Directory.CreateDirectory(etc);
        Directory.CreateDirectory(Path.Combine(dir, "srv", "d1"));
        var ports = new Dictionary<string, int>
        {
            ["account"] = LocalServers.FreePort(),
            ["container"] = LocalServers.FreePort(),
            ["object"] = LocalServers.FreePort(),
        };
        var memcachedPort = LocalServers.FreePort();
        var server = new SwiftServer(dir, LocalServers.FreePort());
        try
        {
            await CopyRingsAsync(etc, ports);
            File.WriteAllText(Path.Combine(etc, "swift.conf"), """
                [swift-hash]
                swift_hash_path_suffix = pasartests
                swift_hash_path_prefix = pasartests

                [storage-policy:0]
                name = Policy-0
                default = yes
                """);
            var user = Environment.UserName;
            foreach (var (kind, port) in ports)
            {
                var pipeline = kind == "object" ? "object-server" : kind + "-server";
                File.WriteAllText(Path.Combine(etc, kind + "-server.conf"), $"""
                    [DEFAULT]
                    swift_dir = {etc}
                    devices = {Path.Combine(dir, "srv")}
                    mount_check = false
                    bind_ip = 127.0.0.1
                    bind_port = {port}
                    workers = 1
                    user = {user}
                    log_level = WARNING

                    [pipeline:main]
                    pipeline = {pipeline}

                    [app:{pipeline}]
                    use = egg:swift#{kind}

                    [{kind}-replicator]
                    [{kind}-updater]
                    [{kind}-auditor]
                    """);
            }

            File.WriteAllText(Path.Combine(etc, "proxy-server.conf"), $"""
                [DEFAULT]
                swift_dir = {etc}
                bind_ip = 127.0.0.1
                bind_port = {server.ProxyPort}
                workers = 1
                user = {user}
                log_level = WARNING

                [pipeline:main]
                pipeline = catch_errors gatekeeper healthcheck proxy-logging cache listing_formats s3api tempauth copy slo dlo proxy-logging proxy-server

                [app:proxy-server]
                use = egg:swift#proxy
                account_autocreate = true

                [filter:s3api]
                use = egg:swift#s3api
                location = {Region}

                [filter:tempauth]
                use = egg:swift#tempauth
                user_test_tester = {SecretKey} .admin

                [filter:cache]
                use = egg:swift#memcache
                memcache_servers = 127.0.0.1:{memcachedPort}

                [filter:catch_errors]
                use = egg:swift#catch_errors

                [filter:gatekeeper]
                use = egg:swift#gatekeeper

                [filter:healthcheck]
                use = egg:swift#healthcheck

                [filter:proxy-logging]
                use = egg:swift#proxy_logging

                [filter:listing_formats]
                use = egg:swift#listing_formats

                [filter:copy]
                use = egg:swift#copy

                [filter:slo]
                use = egg:swift#slo

                [filter:dlo]
                use = egg:swift#dlo
                """);

            server._backends.Add(Launch(LocalServers.Which("memcached")!, ["-u", "nobody", "-l", "127.0.0.1", "-p", memcachedPort.ToString(System.Globalization.CultureInfo.InvariantCulture), "-m", "32"]));
            foreach (var kind in ports.Keys)
            {
                server._backends.Add(LaunchScript($"swift-{kind}-server", [Path.Combine(etc, kind + "-server.conf")]));
            }

            foreach (var port in ports.Values.Append(memcachedPort))
            {
                await WaitForPortAsync(port, server._backends);
            }

            await server.StartProxyAsync();
            return server;
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
    }

    /// <summary>An outage of the S3 endpoint: the proxy is killed (the storage servers keep the objects).</summary>
    public async Task StopProxyAsync()
    {
        if (_proxy is { } proxy)
        {
            _proxy = null;
            Kill(proxy);
            await proxy.WaitForExitAsync();
            proxy.Dispose();
        }
    }

    /// <summary>Starts the proxy (again) on the same port; returns once <c>/healthcheck</c> answers. A no-op while it runs.</summary>
    public async Task StartProxyAsync()
    {
        if (_proxy is { HasExited: false })
        {
            return; // a second proxy could not bind the port, and would outlive the fixture
        }

        var proxy = LaunchScript("swift-proxy-server", [Path.Combine(_dir, "etc", "proxy-server.conf")]);
        _proxy = proxy;
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        for (var i = 0; i < 300; i++)
        {
            if (proxy.HasExited)
            {
                break;
            }

            try
            {
                using var response = await http.GetAsync($"{ServiceUrl}/healthcheck");
                if (response.IsSuccessStatusCode)
                {
                    return;
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

        throw new ServerUnavailableException($"swift-proxy-server did not answer /healthcheck: {Output(proxy)}");
    }

    /// <summary>The three rings (account, container, object) are built once per run, then copied with this run's ports.</summary>
    private static async Task CopyRingsAsync(string etc, Dictionary<string, int> ports)
    {
        // A ring names the devices' ports, so each server gets rings of its own; the builder files are copied and
        // the device's port changed (set_info), which is much cheaper than creating and rebalancing anew.
        await RingsGate.WaitAsync();
        try
        {
            if (_ringsDir is null)
            {
                var rings = Path.Combine(Path.GetTempPath(), "pasar-swift-rings-" + Guid.NewGuid().ToString("N")[..8]);
                Directory.CreateDirectory(rings);
                foreach (var kind in ports.Keys)
                {
                    var builder = Path.Combine(rings, kind + ".builder");
                    await RingBuilderAsync(builder, "create", "8", "1", "1");
                    await RingBuilderAsync(builder, "add", "r1z1-127.0.0.1:6000/d1", "100");
                    await RingBuilderAsync(builder, "rebalance");
                }

                _ringsDir = rings;
            }
        }
        finally
        {
            RingsGate.Release();
        }

        foreach (var (kind, port) in ports)
        {
            var builder = Path.Combine(etc, kind + ".builder");
            File.Copy(Path.Combine(_ringsDir, kind + ".builder"), builder);
            await RingBuilderAsync(builder, "set_info", "--ip", "127.0.0.1", "--port", "6000", "--change-port", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--yes");
            await RingBuilderAsync(builder, "write_ring");
        }
    }

    private static async Task RingBuilderAsync(string builder, params string[] args)
    {
        var (code, output) = await LocalServers.RunAsync(Python, [LocalServers.Which("swift-ring-builder")!, builder, .. args], TimeSpan.FromMinutes(1));
        // rebalance answers 1 when it warns (one device, one replica): the ring is written all the same.
        if (code > 1)
        {
            throw new ServerUnavailableException($"swift-ring-builder {string.Join(' ', args)} failed ({code}): {output}");
        }
    }

    private static async Task WaitForPortAsync(int port, List<Process> processes)
    {
        for (var i = 0; i < 300; i++)
        {
            if (processes.Find(p => p.HasExited) is { } dead)
            {
                throw new ServerUnavailableException($"a Swift server exited at start: {Output(dead)}");
            }

            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException)
            {
                await Task.Delay(100);
            }
        }

        throw new ServerUnavailableException($"a Swift server did not listen on port {port}");
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<Process, System.Text.StringBuilder> Outputs = [];

    /// <summary>
    /// The interpreter Swift's scripts name in their first line (Debian's python3, which has the swift modules),
    /// not whichever python3 comes first on PATH.
    /// </summary>
    private static string Python
    {
        get
        {
            var first = File.ReadLines(LocalServers.Which("swift-proxy-server")!).FirstOrDefault() ?? "";
            return first.StartsWith("#!", StringComparison.Ordinal) ? first[2..].Trim().Split(' ')[0] : "python3";
        }
    }

    private static Process LaunchScript(string script, string[] args) => Launch(Python, [LocalServers.Which(script)!, .. args]);

    private static Process Launch(string file, string[] args)
    {
        var psi = new ProcessStartInfo(file) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        var process = Process.Start(psi)!;
        var output = new System.Text.StringBuilder();
        Outputs.Add(process, output);
        process.OutputDataReceived += (_, e) => { lock (output) { if (output.Length < 20_000) { output.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { lock (output) { if (output.Length < 20_000) { output.AppendLine(e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    private static string Output(Process process)
    {
        if (!Outputs.TryGetValue(process, out var output))
        {
            return "";
        }

        lock (output)
        {
            return output.ToString();
        }
    }

    private static void Kill(Process process)
    {
        try
        {
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await StopProxyAsync();
        foreach (var process in _backends)
        {
            Kill(process);
            await process.WaitForExitAsync();
            process.Dispose();
        }

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
