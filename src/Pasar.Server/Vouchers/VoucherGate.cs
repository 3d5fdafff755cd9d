using Dapper;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Redis;
using Pasar.Server.Platform.Storage;
using StackExchange.Redis;

namespace Pasar.Server.Vouchers;

/// <summary>
/// The fast gate in front of a voucher's claims, with the flash sale gate's discipline (ADR 0007, 0019): one Lua
/// script over the voucher's remaining claims and the per-user counts, atomic on Garnet (transaction mode) and on
/// Redis across nodes. Every take and release carries an operation id the script records, so a command sent again
/// after a timeout does not take or give back twice. Missing keys are rebuilt from SQL (quantity − claimed, the
/// claims per user). SQL's own guards stand behind it, so a lost gate can never over-issue.
/// </summary>
internal sealed class VoucherGate(HotStore store, Database database, ILogger<VoucherGate> logger)
{
    private const long OperationTtlMs = 600_000;

    // KEYS: remaining, claimers, op key, the user's passed keys. ARGV: user, limit, op ttl, Idempotency-Key or '', keys ttl.
    // Replies: the remaining claims (taken); -1 sold out; -2 limit reached, maybe a retry; -4 sold out after claiming,
    // maybe a retry; -6 limit reached, not a retry; -3 the gate is missing; -5 this operation was released.
    private const string TakeScript = GateRetryKeys.Lua + """
        local prior = redis.call('GET', KEYS[3])
        if prior then
            if prior == 'released' then return -5 end
            return tonumber(prior)
        end
        local remaining = redis.call('GET', KEYS[1])
        if not remaining then return -3 end
        remaining = tonumber(remaining)
        local claimed = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
        if claimed + 1 > tonumber(ARGV[2]) then
            if may_retry(KEYS[4], ARGV[4], false) == 1 then return -2 end
            return -6
        end
        if remaining < 1 then
            if claimed > 0 and may_retry(KEYS[4], ARGV[4], false) == 1 then return -4 end
            return -1
        end
        redis.call('DECRBY', KEYS[1], 1)
        redis.call('HINCRBY', KEYS[2], ARGV[1], 1)
        redis.call('SET', KEYS[3], remaining - 1, 'PX', ARGV[3])
        remember_key(KEYS[4], ARGV[4], claimed == 0, ARGV[5])
        return remaining - 1
        """;

    // Gives back one operation's take, once. KEYS: remaining, claimers, op key. ARGV: user, op ttl, undo-of-take flag.
    private const string ReleaseScript = """
        local prior = redis.call('GET', KEYS[3])
        if ARGV[3] == '1' then
            if (not prior) or prior == 'released' then return 0 end
        elseif prior then
            return 0
        end
        redis.call('SET', KEYS[3], 'released', 'PX', ARGV[2])
        if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('INCRBY', KEYS[1], 1) end
        if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then redis.call('HINCRBY', KEYS[2], ARGV[1], -1) end
        return 1
        """;

    private const string RebuildScript = """
        if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
        redis.call('DEL', KEYS[2])
        for i = 2, #ARGV, 2 do redis.call('HSET', KEYS[2], ARGV[i], ARGV[i + 1]) end
        redis.call('SET', KEYS[1], ARGV[1], 'PX', 172800000)
        redis.call('PEXPIRE', KEYS[2], 172800000)
        return 1
        """;

    private readonly System.Threading.Channels.Channel<Release> _unsettled =
        System.Threading.Channels.Channel.CreateUnbounded<Release>(new System.Threading.Channels.UnboundedChannelOptions { SingleReader = true });

    public enum Result
    {
        Taken,
        SoldOut,

        /// <summary>The user's limit is reached and this request is not a retry of a claim that passed.</summary>
        LimitReached,

        /// <summary>The user's limit is reached and the request may be a retry of a claim that passed (its key did).</summary>
        LimitReachedMaybeRetry,

        /// <summary>Sold out, for a user who already claimed: their request may be a retry to replay.</summary>
        SoldOutAfterClaiming,
    }

    internal sealed record Release(string VoucherId, string UserId, string OperationId, bool UndoTake);

    internal System.Threading.Channels.ChannelReader<Release> Unsettled => _unsettled.Reader;

    public async Task<Result> TryTakeAsync(string voucherId, string userId, int perUserLimit, string? idempotencyKey, CancellationToken ct)
    {
        var operationId = Ids.New();
        try
        {
            for (var rebuilds = 0; rebuilds < 3; rebuilds++)
            {
                var reply = await StoreResilience.Hot.ExecuteAsync(async _ =>
                    (long)await store.Database.ScriptEvaluateAsync(TakeScript, [.. Keys(voucherId, operationId), GateRetryKeys.Set($"voucher:{voucherId}", userId)],
                        [userId, perUserLimit, OperationTtlMs, GateRetryKeys.Arg(idempotencyKey), GateRetryKeys.TtlMs]), ct);
                switch (reply)
                {
                    case -3:
                        await RebuildAsync(voucherId, ct);
                        continue;
                    case -1:
                    case -5:
                        return Result.SoldOut;
                    case -4:
                        return Result.SoldOutAfterClaiming;
                    case -2:
                        return Result.LimitReachedMaybeRetry;
                    case -6:
                        return Result.LimitReached;
                    default:
                        return Result.Taken;
                }
            }
        }
        catch (Exception ex) when (StoreFaults.IsUnavailable(ex) || ex is OperationCanceledException)
        {
            // Also when the caller gave up (its request was aborted) between a retry's attempts: the take may have run.
            _unsettled.Writer.TryWrite(new Release(voucherId, userId, operationId, UndoTake: true));
            throw;
        }

        throw new InvalidOperationException($"The gate of voucher {voucherId} could not be rebuilt.");
    }

    /// <summary>Gives back a take that answered (SQL refused or failed); never throws for an unavailable store.</summary>
    public async Task ReleaseAsync(string voucherId, string userId)
    {
        var release = new Release(voucherId, userId, Ids.New(), UndoTake: false);
        try
        {
            await SettleAsync(release, CancellationToken.None);
        }
        catch (Exception ex) when (StoreFaults.IsUnavailable(ex))
        {
            logger.LogWarning("Voucher {Voucher}: giving a claim back waits for the hot store ({Error})", voucherId, StoreFaults.Describe(ex));
            _unsettled.Writer.TryWrite(release);
        }
    }

    internal Task SettleAsync(Release release, CancellationToken ct) =>
        StoreResilience.Hot.ExecuteAsync(async _ =>
            await store.Database.ScriptEvaluateAsync(ReleaseScript, Keys(release.VoucherId, release.OperationId),
                [release.UserId, OperationTtlMs, release.UndoTake ? "1" : "0"]), ct).AsTask();

    public async Task RebuildAsync(string voucherId, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        var voucher = await c.QuerySingleAsync<(long Quantity, long Claimed)>(new CommandDefinition(
            "SELECT quantity, claimed FROM vouchers WHERE id = @voucherId", new { voucherId }, cancellationToken: ct));
        var claimers = await c.QueryAsync<(string UserId, long Claims)>(new CommandDefinition(
            "SELECT user_id, COUNT(*) FROM voucher_claims WHERE voucher_id = @voucherId GROUP BY user_id", new { voucherId }, cancellationToken: ct));
        var args = new List<RedisValue> { voucher.Quantity - voucher.Claimed };
        foreach (var (user, claims) in claimers)
        {
            args.Add(user);
            args.Add(claims);
        }

        await store.Database.ScriptEvaluateAsync(RebuildScript, [$"voucher:{voucherId}:remaining", $"voucher:{voucherId}:claimers"], args.ToArray());
    }

    private static RedisKey[] Keys(string voucherId, string operationId) =>
        [$"voucher:{voucherId}:remaining", $"voucher:{voucherId}:claimers", $"voucher:{voucherId}:op:{operationId}"];
}

/// <summary>Settles give-backs whose outcome was unknown while the hot store was down (idempotent by operation id).</summary>
internal sealed class VoucherGateRepair(VoucherGate gate, ILogger<VoucherGateRepair> logger) : Platform.Redis.GateRepair<VoucherGate.Release>(gate.Unsettled, logger)
{
    protected override Task SettleAsync(VoucherGate.Release release, CancellationToken ct) => gate.SettleAsync(release, ct);

    protected override string Describe(VoucherGate.Release release) => $"Voucher {release.VoucherId}";
}
