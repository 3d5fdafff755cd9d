using Dapper;
using Pasar.Server.Platform.Redis;
using Pasar.Server.Platform.Storage;
using StackExchange.Redis;

namespace Pasar.Server.FlashSales;

/// <summary>
/// The fast gate in front of a flash sale: one Lua script over the sale's remaining units and the per-user
/// counts (atomic on Garnet in transaction mode and on Redis, across any number of nodes). Only requests
/// that pass reach SQL. When the keys are missing (a new node's first look after the hot state was lost) they
/// are rebuilt from SQL: remaining = quantity − sold, per-user counts from the buyers table.
/// </summary>
internal sealed class FlashSaleGate(HotStore store, Database database)
{
    private const string TakeScript = """
        local remaining = redis.call('GET', KEYS[1])
        if not remaining then return -3 end
        remaining = tonumber(remaining)
        local qty = tonumber(ARGV[2])
        local bought = tonumber(redis.call('HGET', KEYS[2], ARGV[1]) or '0')
        if bought + qty > tonumber(ARGV[3]) then return -2 end
        if remaining < qty then
            if bought > 0 then return -4 end
            return -1
        end
        redis.call('DECRBY', KEYS[1], qty)
        redis.call('HINCRBY', KEYS[2], ARGV[1], qty)
        return remaining - qty
        """;

    private const string ReleaseScript = """
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

    public enum Result
    {
        Taken,
        SoldOut,
        LimitReached,

        /// <summary>Sold out, for a buyer who already bought some: their request may be a retry to replay.</summary>
        SoldOutAfterBuying,
    }

    public async Task<(Result Result, int Remaining)> TryTakeAsync(string saleId, string buyerId, int quantity, int perUserLimit, CancellationToken ct)
    {
        for (var attempt = 0; attempt < 3; attempt++)
        {
            long reply;
            try
            {
                reply = (long)await store.Database.ScriptEvaluateAsync(TakeScript, Keys(saleId), [buyerId, quantity, perUserLimit]);
            }
            catch (RedisException) when (attempt < 2)
            {
                // A transient error of the store (a timeout under load, a script cache reload): the script either
                // ran whole or not at all, and running it again is what a client retry would do anyway.
                continue;
            }

            switch (reply)
            {
                case -3:
                    await RebuildAsync(saleId, ct);
                    continue;
                case -1:
                    return (Result.SoldOut, 0);
                case -4:
                    return (Result.SoldOutAfterBuying, 0);
                case -2:
                    return (Result.LimitReached, 0);
                default:
                    return (Result.Taken, (int)reply);
            }
        }

        throw new InvalidOperationException($"The gate of flash sale {saleId} could not be rebuilt.");
    }

    public Task ReleaseAsync(string saleId, string buyerId, int quantity) =>
        store.Database.ScriptEvaluateAsync(ReleaseScript, Keys(saleId), [buyerId, quantity]);

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
}
