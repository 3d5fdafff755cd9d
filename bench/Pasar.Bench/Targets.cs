using Pasar.Testing;

namespace Pasar.Bench;

/// <summary>A Pasar server started for a benchmark on one backend pair, with the servers it needs.</summary>
public sealed class BenchTarget : IAsyncDisposable
{
    private readonly PostgresServer? _postgres;
    private readonly RedisServer? _redis;
    private readonly string _dataDir;
    private readonly string? _postgresConnection;

    private BenchTarget(string name, ServerProcess server, string dataDir, PostgresServer? postgres, RedisServer? redis, string? postgresConnection)
    {
        _postgresConnection = postgresConnection;
        Name = name;
        Server = server;
        _dataDir = dataDir;
        _postgres = postgres;
        _redis = redis;
    }

    public const string SigningKey = "pasar-bench-signing-key-0123456789abcdef";

    public string Name { get; }
    public ServerProcess Server { get; }

    public static async Task<BenchTarget> StartAsync(string backend, IReadOnlyDictionary<string, string?>? extra = null, string? label = null)
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "pasar-bench-" + Guid.NewGuid().ToString("N")[..8]);
        var settings = new Dictionary<string, string?>
        {
            ["Pasar:DataDir"] = dataDir,
            ["Pasar:Auth:DevTokens"] = "true",
            ["Pasar:Auth:SigningKey"] = SigningKey,
            ["Pasar:Demo:Seed"] = "false",
            ["Pasar:Demo:LiveShow"] = "false",
            ["Pasar:Rtmp:Port"] = "0",
            // One client address loads the whole server here; the tests of the limits turn them back on.
            ["Pasar:RateLimits:Enabled"] = "false",
            // The chat fan-out figures measure every message to every viewer, as the peers do: no room sampling (ADR 0020).
            ["Pasar:LiveRoom:MaxChatShownPerSecond"] = "100000",
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
        };
        foreach (var (key, value) in extra ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }

        PostgresServer? postgres = null;
        RedisServer? redis = null;
        string name;
        if (backend == "scaled")
        {
            postgres = await PostgresServer.StartAsync();
            redis = await RedisServer.StartAsync();
            settings["Pasar:Database:Provider"] = "Postgres";
            settings["Pasar:Database:ConnectionString"] = (await postgres.CreateDatabaseAsync()).Replace("Maximum Pool Size=60", "Maximum Pool Size=64", StringComparison.Ordinal);
            settings["Pasar:Redis:ConnectionString"] = redis.ConnectionString;
            name = "PostgreSQL 15 + Redis 7";
        }
        else if (backend == "sqlite-redis")
        {
            // Isolates the hot store: the same SQLite as the embedded mode, with Redis 7 instead of Garnet.
            redis = await RedisServer.StartAsync();
            settings["Pasar:Redis:ConnectionString"] = redis.ConnectionString;
            name = "SQLite + Redis 7";
        }
        else
        {
            name = "SQLite + embedded Garnet";
        }

        name = label is null ? name : $"{name}, {label}";
        var server = await ServerProcess.StartAsync(settings, LocalServers.FreePort());
        return new BenchTarget(name, server, dataDir, postgres, redis, settings.GetValueOrDefault("Pasar:Database:ConnectionString"));
    }

    /// <summary>A direct connection to the target's database, for seeding volumes no API loop would create quickly.</summary>
    public async Task<System.Data.Common.DbConnection> OpenDatabaseAsync()
    {
        System.Data.Common.DbConnection connection = _postgresConnection is not null
            ? new Npgsql.NpgsqlConnection(_postgresConnection)
            : new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={Path.Combine(_dataDir, "pasar.db")};Default Timeout=120");
        await connection.OpenAsync();
        return connection;
    }

    /// <summary>CPU seconds used so far by the server process and the database servers it talks to.</summary>
    public double CpuSeconds() => Server.CpuSeconds() + (_postgres?.CpuSeconds() ?? 0) + (_redis?.CpuSeconds() ?? 0);

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync();
        if (_redis is not null)
        {
            await _redis.DisposeAsync();
        }

        if (_postgres is not null)
        {
            await _postgres.DisposeAsync();
        }

        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
