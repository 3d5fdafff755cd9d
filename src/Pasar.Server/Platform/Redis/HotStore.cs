using System.Net;
using System.Net.Sockets;
using Garnet;
using Microsoft.Extensions.Options;
using StackExchange.Redis;
using StackExchange.Redis.KeyspaceIsolation;

namespace Pasar.Server.Platform.Redis;

/// <summary>
/// The hot-state store: counters, gates, rate limits, presence, pub/sub. An external Redis when one is
/// configured, otherwise Microsoft Garnet hosted in this process on a loopback port. Either way the rest of
/// Pasar sees one StackExchange.Redis connection, so the same calls and Lua scripts run on both.
/// </summary>
internal sealed class HotStore : IAsyncDisposable
{
    private readonly GarnetServer? _garnet;

    private HotStore(ConnectionMultiplexer connection, GarnetServer? garnet, string keyPrefix, string description)
    {
        Connection = connection;
        _garnet = garnet;
        KeyPrefix = keyPrefix;
        Description = description;
        Database = connection.GetDatabase().WithKeyPrefix(keyPrefix);
    }

    public ConnectionMultiplexer Connection { get; }

    /// <summary>The database with Pasar's key prefix applied to every key (also to KEYS of Lua scripts).</summary>
    public IDatabase Database { get; }

    public string KeyPrefix { get; }

    /// <summary>"garnet (embedded) 127.0.0.1:PORT" or "redis HOST:PORT", for logs and /readyz.</summary>
    public string Description { get; }

    public bool IsEmbedded => _garnet is not null;

    public static async Task<HotStore> StartAsync(PasarOptions options, ILoggerFactory loggerFactory)
    {
        var logger = loggerFactory.CreateLogger<HotStore>();
        if (!string.IsNullOrWhiteSpace(options.Redis.ConnectionString))
        {
            var config = ConfigurationOptions.Parse(options.Redis.ConnectionString);
            config.AbortOnConnectFail = true;
            config.ConnectTimeout = Math.Min(config.ConnectTimeout, 5000);
            ConnectionMultiplexer connection;
            try
            {
                connection = await ConnectionMultiplexer.ConnectAsync(config);
            }
            catch (RedisConnectionException ex)
            {
                throw new InvalidOperationException(
                    $"Pasar:Redis:ConnectionString: cannot reach Redis at '{string.Join(",", config.EndPoints)}': {ex.Message}", ex);
            }

            logger.LogInformation("Hot state in Redis at {Endpoints}", string.Join(",", config.EndPoints));
            return new HotStore(connection, null, options.Redis.KeyPrefix, $"redis {string.Join(",", config.EndPoints)}");
        }

        var port = FreeLoopbackPort();
        // A fresh password per process: only this process talks to its Garnet, and another local user or a
        // browser's DNS-rebinding page cannot change mutes or gates through the loopback port.
        var password = Platform.Ids.Secret(24);
        // Lua in transaction mode makes a script atomic (keys locked for its run); without it a stock gate oversells.
        string[] args =
        [
            "--bind", "127.0.0.1",
            "--port", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "--auth", "Password", "--password", password,
            "--lua", "--lua-transaction-mode",
            "--memory", options.Redis.EmbeddedMemory,
            "--index", options.Redis.EmbeddedIndex,
        ];
        var garnet = new GarnetServer(args, loggerFactory);
        garnet.Start();
        var embedded = ConfigurationOptions.Parse($"127.0.0.1:{port}");
        embedded.Password = password;
        embedded.AbortOnConnectFail = true;
        var conn = await ConnectionMultiplexer.ConnectAsync(embedded);
        logger.LogInformation("Hot state in embedded Garnet at 127.0.0.1:{Port}", port);
        return new HotStore(conn, garnet, options.Redis.KeyPrefix, $"garnet (embedded) 127.0.0.1:{port}");
    }

    public string EndpointText => string.Join(",", Connection.GetEndPoints().Select(e => e.ToString()));

    private static int FreeLoopbackPort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    public async ValueTask DisposeAsync()
    {
        await Connection.CloseAsync();
        Connection.Dispose();
        _garnet?.Dispose();
    }
}

/// <summary>Hosts the hot store's lifetime and makes it reachable through DI.</summary>
internal static class HotStoreRegistration
{
    public static void AddHotStore(this IServiceCollection services)
    {
        services.AddSingleton(sp =>
        {
            var options = sp.GetRequiredService<IOptions<PasarOptions>>().Value;
            return HotStore.StartAsync(options, sp.GetRequiredService<ILoggerFactory>()).GetAwaiter().GetResult();
        });
        services.AddSingleton<IConnectionMultiplexer>(sp => sp.GetRequiredService<HotStore>().Connection);
    }
}
