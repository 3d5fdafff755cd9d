using Dapper;
using Pasar.Server.Platform.Redis;
using Pasar.Server.Platform.Storage;
using StackExchange.Redis;

namespace Pasar.Server.Auctions;

/// <summary>
/// The fast gate in front of an auction's bids (ADR 0021): one Lua script over the auction's (highest bid, bidder,
/// end), atomic on Garnet (transaction mode) and on Redis across nodes, so concurrent bids are put in one order and
/// most of a wave is refused without touching SQL. It answers the same rules SQL checks behind it (start price,
/// increment, not against yourself, before the end, the anti-snipe move), so SQL's conditional update and the unique
/// (auction, amount) keep the accepted bids strictly increasing even when the gate is lost or rebuilt behind SQL.
/// </summary>
internal sealed class AuctionGate(HotStore store, Database database)
{
    private const long KeyTtlMs = 172_800_000;

    // KEYS: the auction's hash, the bidder's passed keys. ARGV: bidder, amount, now (ms), bid id, Idempotency-Key or '',
    // keys ttl. Reply: {code, highest, endsAt, maybe a retry}; code 1 accepted, -1 ended, -2 already highest, -3
    // missing, -4 too low. The same bid id sent again (a retry after a timeout) answers its first acceptance. 'fresh'
    // says no bid was accepted before this gate was built, so a bidder without a keys set never had a bid accepted.
    private const string BidScript = GateRetryKeys.Lua + """
        local s = redis.call('HMGET', KEYS[1], 'ends', 'high', 'bidder', 'start', 'inc', 'snipe', 'closed', 'last', 'fresh')
        if not s[1] then return {-3, 0, 0, 0} end
        if s[8] == ARGV[4] then return {1, tonumber(s[2]), tonumber(s[1]), 0} end
        local fresh = s[9] == '1'
        local now = tonumber(ARGV[3])
        local ends = tonumber(s[1])
        local high = tonumber(s[2])
        local code = 0
        if s[7] == '1' or now >= ends then
            code = -1
        else
            local amount = tonumber(ARGV[2])
            if high > 0 then
                if s[3] == ARGV[1] then code = -2
                elseif amount < high + tonumber(s[5]) then code = -4 end
            elseif amount < tonumber(s[4]) then
                code = -4
            end
        end
        if code < 0 then return {code, high, ends, may_retry(KEYS[2], ARGV[5], fresh)} end
        local snipe = tonumber(s[6])
        if ends - now <= snipe then ends = now + snipe end
        redis.call('HSET', KEYS[1], 'high', ARGV[2], 'bidder', ARGV[1], 'ends', ends, 'last', ARGV[4])
        remember_key(KEYS[2], ARGV[5], fresh, ARGV[6])
        return {1, tonumber(ARGV[2]), ends, 0}
        """;

    // A bid the gate accepted but SQL did not keep: when it is still the gate's last word, the gate is dropped and
    // rebuilt from SQL on the next bid (a later accepted bid already replaced it otherwise). KEYS: hash. ARGV: bid id.
    private const string ForgetScript = """
        if redis.call('HGET', KEYS[1], 'last') == ARGV[1] then
            redis.call('DEL', KEYS[1])
            return 1
        end
        return 0
        """;

    // KEYS: hash. ARGV: ends, high, bidder, start, inc, snipe (ms), closed, ttl, fresh (no bid accepted yet: '1').
    private const string RebuildScript = """
        if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
        redis.call('HSET', KEYS[1], 'ends', ARGV[1], 'high', ARGV[2], 'bidder', ARGV[3], 'start', ARGV[4], 'inc', ARGV[5], 'snipe', ARGV[6], 'closed', ARGV[7], 'last', '', 'fresh', ARGV[9])
        redis.call('PEXPIRE', KEYS[1], ARGV[8])
        return 1
        """;

    private const string CloseScript = """
        if redis.call('EXISTS', KEYS[1]) == 1 then redis.call('HSET', KEYS[1], 'closed', '1') end
        return 1
        """;

    public enum Result
    {
        Accepted,
        Ended,
        AlreadyHighest,
        TooLow,
    }

    /// <summary>What the gate said; <paramref name="MayBeRetry"/>: a refused bid whose key passed the gate before (GateRetryKeys).</summary>
    public readonly record struct Reply(Result Result, long HighestMinor, long EndsAtMs, bool MayBeRetry = false);

    public async Task<Reply> TryBidAsync(string auctionId, string bidderId, long amountMinor, long nowMs, string bidId, string? idempotencyKey, CancellationToken ct)
    {
        for (var rebuilds = 0; rebuilds < 3; rebuilds++)
        {
            var reply = (RedisResult[])(await StoreResilience.Hot.ExecuteAsync(async _ =>
                await store.Database.ScriptEvaluateAsync(BidScript, [Key(auctionId), GateRetryKeys.Set($"auction:{auctionId}", bidderId)],
                    [bidderId, amountMinor, nowMs, bidId, GateRetryKeys.Arg(idempotencyKey), GateRetryKeys.TtlMs]), ct))!;
            var code = (long)reply[0];
            var highest = (long)reply[1];
            var endsAt = (long)reply[2];
            var mayBeRetry = (long)reply[3] == 1;
            switch (code)
            {
                case -3:
                    await RebuildAsync(auctionId, ct);
                    continue;
                case -1:
                    return new Reply(Result.Ended, highest, endsAt, mayBeRetry);
                case -2:
                    return new Reply(Result.AlreadyHighest, highest, endsAt, mayBeRetry);
                case -4:
                    return new Reply(Result.TooLow, highest, endsAt, mayBeRetry);
                default:
                    return new Reply(Result.Accepted, highest, endsAt);
            }
        }

        throw new InvalidOperationException($"The gate of auction {auctionId} could not be rebuilt.");
    }

    /// <summary>Drops the gate if this bid, which SQL did not keep, is still its highest; never throws for an unavailable store.</summary>
    public async Task ForgetAsync(string auctionId, string bidId)
    {
        try
        {
            await StoreResilience.Hot.ExecuteAsync(async _ => await store.Database.ScriptEvaluateAsync(ForgetScript, [Key(auctionId)], [bidId]), CancellationToken.None);
        }
        catch (Exception ex) when (StoreFaults.IsUnavailable(ex))
        {
            // The gate then says a little more than SQL until it expires or closes: bids that the stale gate
            // refuses are refused in SQL's words too after the next rebuild, and the close reads SQL only.
        }
    }

    public Task CloseAsync(string auctionId) =>
        StoreResilience.Hot.ExecuteAsync(async _ => await store.Database.ScriptEvaluateAsync(CloseScript, [Key(auctionId)]), CancellationToken.None).AsTask();

    public async Task RebuildAsync(string auctionId, CancellationToken ct)
    {
        AuctionRow row;
        await using (var c = await database.OpenAsync(ct))
        {
            row = await c.QuerySingleAsync<AuctionRow>(new CommandDefinition(
                $"SELECT {AuctionRow.Columns} FROM auctions WHERE id = @auctionId", new { auctionId }, cancellationToken: ct));
        }

        await store.Database.ScriptEvaluateAsync(RebuildScript, [Key(auctionId)],
        [
            row.EndsAt, row.HighestBidMinor ?? 0, row.HighestBidderId ?? "", row.StartPriceMinor, row.IncrementMinor, row.AntiSnipeSeconds * 1000,
            row.Status == AuctionStatus.Open ? "0" : "1", KeyTtlMs, row.HighestBidMinor is null ? "1" : "0",
        ]);
    }

    private static RedisKey Key(string auctionId) => $"auction:{auctionId}:gate";
}
