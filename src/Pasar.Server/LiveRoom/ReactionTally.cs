using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using Pasar.Server.Platform.Redis;
using Pasar.Server.Platform.Storage;
using StackExchange.Redis;

namespace Pasar.Server.LiveRoom;

/// <summary>
/// Live reactions (SPEC §16, ADR 0020): each accepted tap is one atomic script in Redis/Garnet that checks the
/// user's 10 a second and adds one to the room's hash for the current tick. When a tick has closed, every node that
/// took taps in it claims the hash (read and delete in one script): the first gets the counts and publishes one
/// <c>reactions</c> frame to the room, the others get nothing. Nothing is stored in SQL.
/// </summary>
internal sealed class ReactionTally(HotStore store, RoomBroadcaster broadcaster, IOptions<ChatOptions> options, TimeProvider time, ILogger<ReactionTally> logger) : BackgroundService
{
    public const int PerUserPerSecond = 10;

    public static readonly IReadOnlySet<string> Kinds = new HashSet<string>(["heart", "like", "fire", "clap"], StringComparer.Ordinal);

    // KEYS: the user's window in this room, the room's tick hash. ARGV: the limit, the kind. The window starts at the
    // user's first tap and lasts a second, so the 11th tap within a second of the first is refused.
    private const string TapScript = """
        local n = redis.call('INCR', KEYS[1])
        if n == 1 then redis.call('PEXPIRE', KEYS[1], 1000) end
        if n > tonumber(ARGV[1]) then return 0 end
        redis.call('HINCRBY', KEYS[2], ARGV[2], 1)
        redis.call('PEXPIRE', KEYS[2], 60000)
        return 1
        """;

    private const string ClaimScript = """
        local counts = redis.call('HGETALL', KEYS[1])
        redis.call('DEL', KEYS[1])
        return counts
        """;

    // The (room, tick) hashes this node added to and has not claimed yet.
    private readonly ConcurrentDictionary<(string SessionId, long Tick), byte> _open = new();

    private long TickOf(long unixMs) => unixMs / (long)options.Value.CoalesceTick.TotalMilliseconds;

    /// <summary>Counts one tap; false when the user already reacted <see cref="PerUserPerSecond"/> times in the last second.</summary>
    public async Task<bool> TapAsync(string sessionId, string userId, string kind)
    {
        var tick = TickOf(time.GetUtcNow().ToUnixTimeMilliseconds());
        var counted = (long)await store.Database.ScriptEvaluateAsync(TapScript,
            [$"react:rate:{sessionId}:{userId}", $"react:{sessionId}:{tick}"], [PerUserPerSecond, kind]);
        if (counted == 1)
        {
            _open.TryAdd((sessionId, tick), 0);
        }

        return counted == 1;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.CoalesceTick);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await FlushAsync(TickOf(time.GetUtcNow().ToUnixTimeMilliseconds()));
            }
        }
        catch (OperationCanceledException)
        {
        }

        await FlushAsync(long.MaxValue);
    }

    private async Task FlushAsync(long currentTick)
    {
        foreach (var key in _open.Keys)
        {
            if (key.Tick >= currentTick || !_open.TryRemove(key, out _))
            {
                continue; // still open: taps may land in it
            }

            try
            {
                var claimed = (RedisResult[]?)await store.Database.ScriptEvaluateAsync(ClaimScript, [$"react:{key.SessionId}:{key.Tick}"]);
                if (claimed is not { Length: > 0 })
                {
                    continue; // another node took this tick's counts and sent them
                }

                var counts = new Dictionary<string, long>(StringComparer.Ordinal);
                for (var i = 0; i + 1 < claimed.Length; i += 2)
                {
                    counts[(string)claimed[i]!] = (long)claimed[i + 1];
                }

                await broadcaster.PublishAsync(RoomTarget.Session, key.SessionId, "reactions", new ReactionsUpdated(
                    key.SessionId, counts.GetValueOrDefault("heart"), counts.GetValueOrDefault("like"), counts.GetValueOrDefault("fire"), counts.GetValueOrDefault("clap")));
            }
            catch (Exception ex) when (StoreFaults.IsUnavailable(ex) || ex is RedisException)
            {
                logger.LogWarning("Reactions of {Session} could not be sent: {Error}", key.SessionId, StoreFaults.Describe(ex));
            }
            catch (Exception ex)
            {
                logger.LogError(ex, "Reactions of {Session} could not be sent", key.SessionId);
            }
        }
    }
}
