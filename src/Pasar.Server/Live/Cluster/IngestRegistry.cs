using System.Collections.Concurrent;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Redis;
using StackExchange.Redis;

namespace Pasar.Server.Live.Cluster;

/// <summary>
/// Which node ingests which live session, in the hot store (ADR 0025): <c>live:ingest:{sessionId}</c> → that node's
/// <see cref="ClusterOptions.InternalUrl"/>, with a short time to live that this node refreshes while a publisher is
/// connected to it. A node that dies stops refreshing and its entries expire; a show that ends is removed at once.
/// Lookups are remembered for a moment, so that viewers' requests do not each cost a round trip to Redis.
/// </summary>
internal sealed class IngestRegistry(
    HotStore store,
    IOptions<ClusterOptions> options,
    IServiceProvider services,
    TimeProvider time,
    ILogger<IngestRegistry> logger) : IHostedLifecycleService
{
    /// <summary>How long an entry lives without a refresh: how long a dead ingest node is still named.</summary>
    public static readonly TimeSpan EntryLifetime = TimeSpan.FromSeconds(10);

    private static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(3);
    private static readonly TimeSpan LookupLifetime = TimeSpan.FromSeconds(1);

    private const string DeleteIfOwnScript = """
        if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
        return 0
        """;

    private readonly ConcurrentDictionary<string, byte> _registered = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (string? Owner, DateTimeOffset Until)> _lookups = new(StringComparer.Ordinal);
    private ITimer? _refresh;
    private volatile string? _self;

    /// <summary>This node's internal URL, once known (configured, or bound by Kestrel).</summary>
    public string? Self => _self;

    private static RedisKey Key(string sessionId) => $"live:ingest:{sessionId}";

    /// <summary>A publisher is connected here: other nodes forward the session's playback to this node.</summary>
    public void Register(string sessionId)
    {
        _registered[sessionId] = 0;
        _ = WriteAsync(sessionId);
    }

    /// <summary>The publisher left (a reconnect may follow, here or elsewhere): the entry is no longer refreshed and expires.</summary>
    public void Release(string sessionId) => _registered.TryRemove(sessionId, out _);

    /// <summary>The show ended: the entry goes now, unless another node has taken the session over meanwhile.</summary>
    public async Task RemoveAsync(string sessionId)
    {
        _registered.TryRemove(sessionId, out _);
        if (_self is not { } self)
        {
            return;
        }

        try
        {
            await store.Database.ScriptEvaluateAsync(DeleteIfOwnScript, [Key(sessionId)], [self]);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            logger.LogWarning("Live {SessionId}: removing the ingest registration failed ({Error}); it expires within {Lifetime}", sessionId, ex.Message, EntryLifetime);
        }
    }

    /// <summary>The internal URL of the node ingesting <paramref name="sessionId"/>, or null when no node does.</summary>
    public async Task<string?> OwnerAsync(string sessionId)
    {
        var now = time.GetUtcNow();
        if (_lookups.TryGetValue(sessionId, out var known) && known.Until > now)
        {
            return known.Owner;
        }

        string? owner = await store.Database.StringGetAsync(Key(sessionId));
        if (_lookups.Count > 10_000)
        {
            _lookups.Clear(); // bounded: the entries are a second old at most anyway
        }

        _lookups[sessionId] = (owner, now + LookupLifetime);
        return owner;
    }

    private async Task WriteAsync(string sessionId)
    {
        if (_self is not { } self)
        {
            return; // written by the first refresh, once the node knows its address
        }

        try
        {
            await store.Database.StringSetAsync(Key(sessionId), self, EntryLifetime);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            logger.LogWarning("Live {SessionId}: registering this node as its ingest node failed ({Error}); retried in {Interval}", sessionId, ex.Message, RefreshInterval);
        }
    }

    private async Task RefreshAsync()
    {
        foreach (var sessionId in _registered.Keys)
        {
            await WriteAsync(sessionId);
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartedAsync(CancellationToken cancellationToken)
    {
        // Kestrel has bound by now, so the addresses are the real ones.
        _self = options.Value.InternalUrl.Length > 0 ? options.Value.InternalUrl.TrimEnd('/') : FirstHttpAddress();
        logger.LogInformation("Cluster: other nodes reach this one at {InternalUrl}", _self);
        _refresh = time.CreateTimer(static state => _ = ((IngestRegistry)state!).RefreshAsync(), this, TimeSpan.Zero, RefreshInterval);
        return Task.CompletedTask;
    }

    public async Task StoppingAsync(CancellationToken cancellationToken)
    {
        if (_refresh is not null)
        {
            await _refresh.DisposeAsync();
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        // A node that stops cleanly serves nothing any more: its sessions are no longer forwarded to it.
        foreach (var sessionId in _registered.Keys)
        {
            await RemoveAsync(sessionId);
        }
    }

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    private string? FirstHttpAddress()
    {
        // Looked up now, not injected: the server's construction builds the RTMP handler, which needs this registry.
        var server = services.GetRequiredService<Microsoft.AspNetCore.Hosting.Server.IServer>();
        var others = services.GetServices<INonHttpListener>().Select(l => l.Port).ToHashSet();
        foreach (var address in server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [])
        {
            var bound = BindingAddress.Parse(address);
            if (others.Contains(bound.Port))
            {
                continue;
            }

            var host = bound.Host is "0.0.0.0" or "[::]" or "*" or "+" ? System.Net.Dns.GetHostName() : bound.Host;
            return $"{bound.Scheme}://{host}:{bound.Port}";
        }

        return null;
    }
}
