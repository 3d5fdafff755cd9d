using Dapper;
using Pasar.Server.Platform.Redis;
using Pasar.Server.Platform.Storage;
using StackExchange.Redis;

namespace Pasar.Server.LiveRoom;

/// <summary>Whether a signed-in user is watching a room now (a heartbeat in the last 30 s): for other modules (giveaway entries).</summary>
internal interface IRoomPresence
{
    Task<bool> IsUserPresentAsync(string sessionId, string userId, CancellationToken ct);
}

/// <summary>
/// Concurrent viewers: a sorted set per session of viewer → last heartbeat time, so each viewer expires on
/// its own 30 s after its last heartbeat; the peak is raised in the same script, atomically. Shared by all
/// nodes through Redis/Garnet; the peak is also kept in SQL and restored from it if the hot state is lost.
/// </summary>
internal sealed class ViewerPresence(HotStore store, Database database, TimeProvider time) : IRoomPresence
{
    public static readonly TimeSpan Window = TimeSpan.FromSeconds(30);

    private const string CountScript = """
        if ARGV[3] ~= '' then redis.call('ZADD', KEYS[1], ARGV[1], ARGV[3]) end
        redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', tonumber(ARGV[1]) - tonumber(ARGV[2]))
        redis.call('PEXPIRE', KEYS[1], 86400000)
        local current = redis.call('ZCARD', KEYS[1])
        local stored = redis.call('GET', KEYS[2])
        local missing = 0
        if not stored then missing = 1 end
        local peak = tonumber(stored or '0')
        if current > peak then
            redis.call('SET', KEYS[2], current, 'PX', 604800000)
            peak = current
        end
        return {current, peak, missing}
        """;

    private const string RestorePeakScript = """
        local peak = tonumber(redis.call('GET', KEYS[1]) or '0')
        if tonumber(ARGV[1]) > peak then redis.call('SET', KEYS[1], ARGV[1], 'PX', 604800000) end
        return 1
        """;

    /// <summary>Records a heartbeat (when <paramref name="viewerId"/> is given) and returns (current, peak).</summary>
    public async Task<(long Current, long Peak)> BeatAsync(string sessionId, string? viewerId)
    {
        var (current, peak, _) = await BeatWithStateAsync(sessionId, viewerId);
        return (current, peak);
    }

    /// <summary>As <see cref="BeatAsync"/>, and whether the hot store had no peak for the room before (first
    /// viewer ever, or the hot state was lost: then the peak kept in SQL should be put back).</summary>
    public async Task<(long Current, long Peak, bool PeakWasMissing)> BeatWithStateAsync(string sessionId, string? viewerId)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var reply = (RedisResult[])(await store.Database.ScriptEvaluateAsync(CountScript, Keys(sessionId),
            [now, (long)Window.TotalMilliseconds, viewerId ?? ""]))!;
        return ((long)reply[0], (long)reply[1], (long)reply[2] == 1);
    }

    public Task<(long Current, long Peak)> CountAsync(string sessionId) => BeatAsync(sessionId, null);

    /// <summary>Remembers that a signed-in user joined the session (for attributing their purchases).</summary>
    public async Task JoinedAsync(string sessionId, string userId)
    {
        var key = $"live:joined:{sessionId}";
        await store.Database.SetAddAsync(key, userId);
        await store.Database.KeyExpireAsync(key, TimeSpan.FromDays(2));
    }

    public Task<bool> HasJoinedAsync(string sessionId, string userId) => store.Database.SetContainsAsync($"live:joined:{sessionId}", userId);

    /// <summary>Whether the user has a heartbeat in the last <see cref="Window"/> (watching the room now).</summary>
    public async Task<bool> IsUserPresentAsync(string sessionId, string userId, CancellationToken ct)
    {
        var score = await store.Database.SortedSetScoreAsync(Keys(sessionId)[0], RoomRegistry.UserViewerId(userId));
        return score is { } at && at > time.GetUtcNow().ToUnixTimeMilliseconds() - Window.TotalMilliseconds;
    }

    public Task LeaveAsync(string sessionId, string viewerId) => store.Database.SortedSetRemoveAsync(Keys(sessionId)[0], viewerId);

    /// <summary>Puts the peak recorded in SQL back when the hot store has a lower one (it was lost).</summary>
    public async Task RestorePeakAsync(string sessionId, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        var peak = await c.ExecuteScalarAsync<long?>(new CommandDefinition(
            "SELECT peak_viewers FROM live_room_stats WHERE session_id = @sessionId", new { sessionId }, cancellationToken: ct)) ?? 0;
        if (peak > 0)
        {
            await store.Database.ScriptEvaluateAsync(RestorePeakScript, [Keys(sessionId)[1]], [peak]);
        }
    }

    private static RedisKey[] Keys(string sessionId) => [$"live:viewers:{sessionId}", $"live:peak:{sessionId}"];
}

/// <summary>
/// Once a second, for each room with members on this node, one node (elected per room per second through a
/// SET NX) counts the viewers and pushes <c>viewersUpdated</c> when the numbers changed; every 10 s it also
/// records a sample for the viewers-over-time chart and keeps the peak in SQL.
/// </summary>
internal sealed class ViewerCountPusher(
    RoomRegistry registry, ViewerPresence presence, RoomBroadcaster broadcaster, HotStore store, Database database,
    TimeProvider time, ILogger<ViewerCountPusher> logger) : BackgroundService
{
    private static readonly TimeSpan SampleEvery = TimeSpan.FromSeconds(10);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1), time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                foreach (var sessionId in registry.ActiveSessions.ToList())
                {
                    try
                    {
                        await TickAsync(sessionId, stoppingToken);
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        // RedisTimeoutException is a TimeoutException, not a RedisException: catch at the loop,
                        // whatever failed, so the ticker never dies; the next second tries again.
                        if (StoreFaults.IsUnavailable(ex))
                        {
                            logger.LogWarning("Viewer count for {Session} failed: {Error}", sessionId, StoreFaults.Describe(ex));
                        }
                        else
                        {
                            logger.LogWarning(ex, "Viewer count for {Session} failed", sessionId);
                        }
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    internal async Task TickAsync(string sessionId, CancellationToken ct)
    {
        if (!await store.Database.StringSetAsync($"live:viewers-tick:{sessionId}", "1", TimeSpan.FromMilliseconds(900), When.NotExists))
        {
            return; // another node has this room this second
        }

        var (current, peak) = await presence.CountAsync(sessionId);
        var last = await store.Database.StringGetAsync($"live:viewers-last:{sessionId}");
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        if (last != $"{current}/{peak}")
        {
            await store.Database.StringSetAsync($"live:viewers-last:{sessionId}", $"{current}/{peak}", TimeSpan.FromDays(1));
            await broadcaster.PublishAsync(RoomTarget.Session, sessionId, "viewersUpdated", new ViewersUpdated(sessionId, current, peak));
            await database.InTransactionAsync(async (c, tx) => await c.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO live_room_stats (session_id, peak_viewers) VALUES (@sessionId, @peak)
                ON CONFLICT (session_id) DO UPDATE SET peak_viewers = excluded.peak_viewers WHERE live_room_stats.peak_viewers < excluded.peak_viewers
                """, new { sessionId, peak }, tx, cancellationToken: ct)), ct);
        }

        var slot = now / (long)SampleEvery.TotalMilliseconds * (long)SampleEvery.TotalMilliseconds;
        if (await store.Database.StringSetAsync($"live:viewers-sample:{sessionId}:{slot}", "1", SampleEvery * 2, When.NotExists))
        {
            await database.InTransactionAsync(async (c, tx) => await c.ExecuteAsync(new CommandDefinition(
                "INSERT INTO live_viewer_samples (session_id, at, viewers) VALUES (@sessionId, @slot, @current) ON CONFLICT DO NOTHING",
                new { sessionId, slot, current }, tx, cancellationToken: ct)), ct);
        }
    }
}
