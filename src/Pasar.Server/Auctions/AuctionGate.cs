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

    // KEYS: the auction's hash. ARGV: bidder, amount, now (ms), bid id.
    // Reply: {code, highest, endsAt}; code 1 accepted, -1 ended, -2 already highest, -3 missing, -4 too low.
    // The same bid id sent again (a retry after a timeout) answers its first acceptance.
    private const string BidScript = """
        local s = redis.call('HMGET', KEYS[1], 'ends', 'high', 'bidder', 'start', 'inc', 'snipe', 'closed', 'last')
        if not s[1] then return {-3, 0, 0} end
        if s[8] == ARGV[4] then return {1, tonumber(s[2]), tonumber(s[1])} end
        local now = tonumber(ARGV[3])
        local ends = tonumber(s[1])
        local high = tonumber(s[2])
        if s[7] == '1' or now >= ends then return {-1, high, ends} end
        local amount = tonumber(ARGV[2])
        if high > 0 then
            if s[3] == ARGV[1] then return {-2, high, ends} end
            if amount < high + tonumber(s[5]) then return {-4, high, ends} end
        elseif amount < tonumber(s[4]) then
            return {-4, high, ends}
        end
        local snipe = tonumber(s[6])
        if ends - now <= snipe then ends = now + snipe end
        redis.call('HSET', KEYS[1], 'high', ARGV[2], 'bidder', ARGV[1], 'ends', ends, 'last', ARGV[4])
        return {1, amount, ends}
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

    // KEYS: hash. ARGV: ends, high, bidder, start, inc, snipe (ms), closed, ttl.
    private const string RebuildScript = """
        if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
        redis.call('HSET', KEYS[1], 'ends', ARGV[1], 'high', ARGV[2], 'bidder', ARGV[3], 'start', ARGV[4], 'inc', ARGV[5], 'snipe', ARGV[6], 'closed', ARGV[7], 'last', '')
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

    public readonly record struct Reply(Result Result, long HighestMinor, long EndsAtMs);

    public async Task<Reply> TryBidAsync(string auctionId, string bidderId, long amountMinor, long nowMs, string bidId, CancellationToken ct)
    {
        for (var rebuilds = 0; rebuilds < 3; rebuilds++)
        {
            var reply = (RedisResult[])(await StoreResilience.Hot.ExecuteAsync(async _ =>
                await store.Database.ScriptEvaluateAsync(BidScript, [Key(auctionId)], [bidderId, amountMinor, nowMs, bidId]), ct))!;
            var code = (long)reply[0];
            var highest = (long)reply[1];
            var endsAt = (long)reply[2];
            switch (code)
            {
                case -3:
                    await RebuildAsync(auctionId, ct);
                    continue;
                case -1:
                    return new Reply(Result.Ended, highest, endsAt);
                case -2:
                    return new Reply(Result.AlreadyHighest, highest, endsAt);
                case -4:
                    return new Reply(Result.TooLow, highest, endsAt);
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
            row.Status == AuctionStatus.Open ? "0" : "1", KeyTtlMs,
        ]);
    }

    private static RedisKey Key(string auctionId) => $"auction:{auctionId}:gate";
}
