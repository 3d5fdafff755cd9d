using StackExchange.Redis;

namespace Pasar.Server.Platform.Redis;

/// <summary>
/// The Idempotency-Keys a gate let through, per user, kept beside the gate's state so that a refusal can tell a
/// retry from a new attempt without asking SQL. A refused request can only be a retry of one that passed when its
/// key is among those; every other refusal (the burst of taps after a buyer's one claim, the outbid wave in an
/// auction) is answered by the gate alone. Only a "maybe a retry" looks up the stored response in SQL.
/// <para>
/// A user's set is begun at their first pass through the gate (it then holds every key that passed since), or
/// whenever the gate knows nobody passed before it was built. A set that is missing where passes may have happened
/// (the gate was rebuilt from SQL after the hot state was lost) answers "maybe", so a lost set costs a SQL read, never
/// a wrong refusal of a genuine retry. A request without a key is never a retry. The empty member marks a set begun
/// by a keyless pass (keys are 1 to 255 visible characters, so it is never a key).
/// </para>
/// </summary>
internal static class GateRetryKeys
{
    /// <summary>As long as the gates' own state lives, refreshed at every pass.</summary>
    public const long TtlMs = 172_800_000;

    /// <summary>
    /// Lua functions the gates' scripts start with. <c>remember_key(set, key, begin, ttl)</c> records a pass;
    /// <c>may_retry(set, key, complete)</c> is 1 when a refused request may be a retry, where <c>complete</c> says a
    /// missing set means "never passed".
    /// </summary>
    public const string Lua = """
        local function remember_key(set, key, begin, ttl)
            if begin or redis.call('EXISTS', set) == 1 then
                redis.call('SADD', set, key)
                redis.call('PEXPIRE', set, ttl)
            end
        end
        local function may_retry(set, key, complete)
            if key == '' then return 0 end
            if redis.call('EXISTS', set) == 1 then return redis.call('SISMEMBER', set, key) end
            if complete then return 0 end
            return 1
        end

        """;

    public static RedisKey Set(string gatePrefix, string userId) => $"{gatePrefix}:keys:{userId}";

    public static RedisValue Arg(string? idempotencyKey) => idempotencyKey ?? "";
}
