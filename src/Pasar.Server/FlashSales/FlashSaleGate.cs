using Dapper;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Redis;
using Pasar.Server.Platform.Storage;
using StackExchange.Redis;

namespace Pasar.Server.FlashSales;

/// <summary>
/// The fast gate in front of a flash sale: one Lua script over the sale's remaining units and the per-user
/// counts (atomic on Garnet in transaction mode and on Redis, across any number of nodes). Only requests
/// that pass reach SQL. When the keys are missing (a new node's first look after the hot state was lost) they
/// are rebuilt from SQL: remaining = quantity − sold, per-user counts from the buyers table.
/// <para>
/// A command that timed out may still run on the server (a paused or slow Redis runs it later), so every take
/// and every release carries an operation id that the script records: sending it again returns what the first
/// run did instead of taking or giving back a second time. A take or release whose outcome stays unknown (the
/// store is down) is settled by <see cref="FlashSaleGateRepair"/> once the store answers: no unit is stranded
/// and none is given back twice.
/// </para>
/// </summary>
internal sealed class FlashSaleGate(HotStore store, Database database, ILogger<FlashSaleGate> logger)
{
    /// <summary>How long an operation id is remembered: far beyond any retry, short enough to stay small.</summary>
    private const long OperationTtlMs = 600_000;

    // KEYS: remaining, buyers, this attempt's op key, the buyer's passed keys. ARGV: buyer, qty, limit, op ttl,
    // Idempotency-Key or '', keys ttl. Replies: the remaining units (taken); -1 sold out; -2 limit reached, maybe a
    // retry; -4 sold out after buying, maybe a retry; -6 limit reached, not a retry; -3 missing; -5 released.
    private const string TakeScript = GateRetryKeys.Lua + """
        local prior = redis.call('GET', KEYS[3])
        if prior then
            if prior == 'released' then return -5 end
            return tonumber(prior)
        end
        local remaining = redis.call('GET', KEYS[1])
        if not remaining then return -3 end
        remaining = tonumber(remaining)
        local qty = tonumber(ARGV[2])
        local bought = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
        if bought + qty > tonumber(ARGV[3]) then
            if bought > 0 and may_retry(KEYS[4], ARGV[5], false) == 1 then return -2 end
            return -6
        end
        if remaining < qty then
            if bought > 0 and may_retry(KEYS[4], ARGV[5], false) == 1 then return -4 end
            return -1
        end
        redis.call('DECRBY', KEYS[1], qty)
        redis.call('HINCRBY', KEYS[2], ARGV[1], qty)
        redis.call('SET', KEYS[3], remaining - qty, 'PX', ARGV[4])
        remember_key(KEYS[4], ARGV[5], bought == 0, ARGV[6])
        return remaining - qty
        """;

    // Gives back what one operation took, once. KEYS: remaining, buyers, op key. ARGV: buyer, qty, op ttl,
    // and whether the op key must show a take ('1': undo of a take whose reply was lost) or is the release's own
    // id ('0': a release after a take that did answer).
    private const string ReleaseScript = """
        local prior = redis.call('GET', KEYS[3])
        if ARGV[4] == '1' then
            if (not prior) or prior == 'released' then return 0 end
        elseif prior then
            return 0
        end
        redis.call('SET', KEYS[3], 'released', 'PX', ARGV[3])
        if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('INCRBY', KEYS[1], ARGV[2]) end
        if redis.call('HEXISTS', KEYS[2], ARGV[1]) == 1 then redis.call('HINCRBY', KEYS[2], ARGV[1], -tonumber(ARGV[2])) end
        return 1
        """;

    // Rebuilds both keys together, only when the remaining key is missing (two nodes rebuilding agree).
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

        /// <summary>The buyer's limit is reached and this request is not a retry of a purchase that passed.</summary>
        LimitReached,

        /// <summary>The buyer's limit is reached and the request may be a retry of a purchase that passed (its key did).</summary>
        LimitReachedMaybeRetry,

        /// <summary>Sold out, for a buyer who already bought some: their request may be a retry to replay.</summary>
        SoldOutAfterBuying,
    }

    /// <summary>A give-back whose outcome is not known yet: a take to undo if it ran, or a release to make.</summary>
    internal sealed record Release(string SaleId, string BuyerId, int Quantity, string OperationId, bool UndoTake);

    internal System.Threading.Channels.ChannelReader<Release> Unsettled => _unsettled.Reader;

    public async Task<(Result Result, int Remaining)> TryTakeAsync(string saleId, string buyerId, int quantity, int perUserLimit, string? idempotencyKey, CancellationToken ct)
    {
        // One id for this purchase attempt, sent with every retry of it (StoreResilience.Hot).
        var operationId = Ids.New();
        try
        {
            for (var rebuilds = 0; rebuilds < 3; rebuilds++)
            {
                var reply = await StoreResilience.Hot.ExecuteAsync(async _ =>
                    (long)await store.Database.ScriptEvaluateAsync(TakeScript, [.. Keys(saleId, operationId), GateRetryKeys.Set($"flash:{saleId}", buyerId)],
                        [buyerId, quantity, perUserLimit, OperationTtlMs, GateRetryKeys.Arg(idempotencyKey), GateRetryKeys.TtlMs]), ct);
                switch (reply)
                {
                    case -3:
                        await RebuildAsync(saleId, ct);
                        continue;
                    case -1:
                    case -5:
                        return (Result.SoldOut, 0);
                    case -4:
                        return (Result.SoldOutAfterBuying, 0);
                    case -2:
                        return (Result.LimitReachedMaybeRetry, 0);
                    case -6:
                        return (Result.LimitReached, 0);
                    default:
                        return (Result.Taken, (int)reply);
                }
            }
        }
        catch (Exception ex) when (StoreFaults.IsUnavailable(ex) || ex is OperationCanceledException)
        {
            // Also when the caller gave up (its request was aborted) between a retry's attempts: the take may have run.
            // The script may have run although no reply came: undo it (if it ran) once the store answers.
            _unsettled.Writer.TryWrite(new Release(saleId, buyerId, quantity, operationId, UndoTake: true));
            throw;
        }

        throw new InvalidOperationException($"The gate of flash sale {saleId} could not be rebuilt.");
    }

    /// <summary>
    /// Gives back what a take that answered took (SQL refused the purchase or failed). Never throws for an
    /// unavailable store: the release is then settled in the background, so the caller's own error stands.
    /// </summary>
    public async Task ReleaseAsync(string saleId, string buyerId, int quantity)
    {
        var release = new Release(saleId, buyerId, quantity, Ids.New(), UndoTake: false);
        try
        {
            await SettleAsync(release, CancellationToken.None);
        }
        catch (Exception ex) when (StoreFaults.IsUnavailable(ex))
        {
            logger.LogWarning("Flash sale {Sale}: giving back {Quantity} unit(s) waits for the hot store ({Error})", saleId, quantity, StoreFaults.Describe(ex));
            _unsettled.Writer.TryWrite(release);
        }
    }

    /// <summary>Runs one give-back (idempotent by its operation id, so it may be sent any number of times).</summary>
    internal Task SettleAsync(Release release, CancellationToken ct) =>
        StoreResilience.Hot.ExecuteAsync(async _ =>
            await store.Database.ScriptEvaluateAsync(ReleaseScript, Keys(release.SaleId, release.OperationId),
                [release.BuyerId, release.Quantity, OperationTtlMs, release.UndoTake ? "1" : "0"]), ct).AsTask();

    public async Task<int?> RemainingAsync(string saleId)
    {
        var value = await store.Database.StringGetAsync(Keys(saleId)[0]);
        return value.HasValue ? (int)value : null;
    }

    public async Task RebuildAsync(string saleId, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        var sale = await c.QuerySingleAsync<(long Quantity, long Sold)>(new CommandDefinition(
            "SELECT quantity, sold FROM flash_sales WHERE id = @saleId", new { saleId }, cancellationToken: ct));
        var buyers = await c.QueryAsync<(string BuyerId, long Quantity)>(new CommandDefinition(
            "SELECT buyer_id, quantity FROM flash_sale_buyers WHERE sale_id = @saleId", new { saleId }, cancellationToken: ct));
        var args = new List<RedisValue> { sale.Quantity - sale.Sold };
        foreach (var (buyer, qty) in buyers)
        {
            args.Add(buyer);
            args.Add(qty);
        }

        await store.Database.ScriptEvaluateAsync(RebuildScript, Keys(saleId), args.ToArray());
    }

    private static RedisKey[] Keys(string saleId) => [$"flash:{saleId}:remaining", $"flash:{saleId}:buyers"];

    private static RedisKey[] Keys(string saleId, string operationId) =>
        [$"flash:{saleId}:remaining", $"flash:{saleId}:buyers", $"flash:{saleId}:op:{operationId}"];
}

/// <summary>
/// Settles the gate's give-backs whose outcome was unknown because the hot store was down: retries each, with a
/// backoff, until the store answers. The scripts are idempotent by operation id, so a retry never gives twice.
/// What is still unsettled when the node stops is returned to stock by SQL when the sale closes (ADR 0007).
/// </summary>
internal sealed class FlashSaleGateRepair(FlashSaleGate gate, ILogger<FlashSaleGateRepair> logger) : Platform.Redis.GateRepair<FlashSaleGate.Release>(gate.Unsettled, logger)
{
    protected override Task SettleAsync(FlashSaleGate.Release release, CancellationToken ct) => gate.SettleAsync(release, ct);

    protected override string Describe(FlashSaleGate.Release release) => $"Flash sale {release.SaleId}";
}
