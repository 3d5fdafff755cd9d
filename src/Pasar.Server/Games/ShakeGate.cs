using Pasar.Server.Platform.Redis;
using StackExchange.Redis;

namespace Pasar.Server.Games;

/// <summary>
/// The fast, atomic gate of Shake-Shake in Redis/Garnet: one Lua script checks the user's plays today and
/// the game's coins paid today, and takes a play and the (possibly budget-trimmed) prize together. When
/// the keys are missing (first play of the day, or hot state lost) it asks to be seeded from SQL.
/// </summary>
internal sealed class ShakeGate(HotStore store)
{
    private const string TakeScript = """
        if redis.call('EXISTS', KEYS[1]) == 0 then return {-2, 0} end
        if redis.call('EXISTS', KEYS[2]) == 0 then return {-3, 0} end
        local plays = tonumber(redis.call('GET', KEYS[1]))
        if plays >= tonumber(ARGV[1]) then return {-1, 0} end
        local paid = tonumber(redis.call('GET', KEYS[2]))
        local win = math.min(tonumber(ARGV[3]), math.max(0, tonumber(ARGV[2]) - paid))
        redis.call('INCR', KEYS[1])
        redis.call('INCRBY', KEYS[2], win)
        return {plays + 1, win}
        """;

    private const string SeedScript = "redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) return 1";

    private const string ReleaseScript = """
        if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('DECR', KEYS[1]) end
        if redis.call('EXISTS', KEYS[2]) == 1 then redis.call('DECRBY', KEYS[2], ARGV[1]) end
        return 1
        """;

    private const string ResyncScript = "redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) return 1";

    private static readonly int TtlSeconds = (int)TimeSpan.FromDays(2).TotalSeconds;

    public enum Result
    {
        Taken,
        LimitReached,

        /// <summary>The user's plays today are not in the hot state (first play today, or the state was lost).</summary>
        NeedsPlaysSeed,

        /// <summary>The game's coins paid today are not in the hot state.</summary>
        NeedsPaidSeed,
    }

    public async Task<(Result Result, int PlayNo, long Coins)> TryTakeAsync(string userId, string day, int playsPerDay, long dailyBudget, long wanted)
    {
        var reply = (RedisResult[])(await store.Database.ScriptEvaluateAsync(TakeScript, Keys(userId, day), [playsPerDay, dailyBudget, wanted]))!;
        var plays = (int)reply[0];
        return plays switch
        {
            -2 => (Result.NeedsPlaysSeed, 0, 0),
            -3 => (Result.NeedsPaidSeed, 0, 0),
            -1 => (Result.LimitReached, 0, 0),
            _ => (Result.Taken, plays, (long)reply[1]),
        };
    }

    /// <summary>Sets the user's play counter from SQL unless someone else already did (SET NX).</summary>
    public Task SeedPlaysAsync(string userId, string day, long playsToday) =>
        store.Database.ScriptEvaluateAsync(SeedScript, [Keys(userId, day)[0]], [playsToday, TtlSeconds]);

    /// <summary>Sets the day's paid counter from SQL unless someone else already did (SET NX).</summary>
    public Task SeedPaidAsync(string userId, string day, long paidToday) =>
        store.Database.ScriptEvaluateAsync(SeedScript, [Keys(userId, day)[1]], [paidToday, TtlSeconds]);

    /// <summary>Gives a play and its coins back when the durable write after the gate failed.</summary>
    public Task ReleaseAsync(string userId, string day, long coins) =>
        store.Database.ScriptEvaluateAsync(ReleaseScript, Keys(userId, day), [coins]);

    /// <summary>Forces the user's play counter to what SQL says (after the gate and SQL disagreed).</summary>
    public Task ResyncPlaysAsync(string userId, string day, long playsToday) =>
        store.Database.ScriptEvaluateAsync(ResyncScript, [Keys(userId, day)[0]], [playsToday, TtlSeconds]);

    private static RedisKey[] Keys(string userId, string day) => [$"shake:plays:{day}:{userId}", $"shake:paid:{day}"];
}
