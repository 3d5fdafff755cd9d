using Microsoft.Extensions.Options;
using Pasar.Server.Platform.Redis;
using StackExchange.Redis;

namespace Pasar.Server.Social;

/// <summary>
/// At most <c>Pasar:Social:ClicksPerAddressPerHour</c> counted clicks per client address per share link (SPEC §17):
/// a script that invents a user agent and drops the cookie on every request is one address, and counts that many.
/// The count lives in the hot store, so the bound holds across every node behind the balancer.
/// </summary>
internal sealed class ShareClickBound(HotStore store, IOptions<SocialOptions> options, ILogger<ShareClickBound> logger)
{
    // The window opens at the first counted click and lasts an hour; INCR and its expiry in one step, so that
    // a key can never be left without one.
    private const string TakeScript = """
        local n = redis.call('INCR', KEYS[1])
        if n == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
        return n
        """;

    /// <summary>True when one more click of <paramref name="address"/> on <paramref name="trackingCode"/> may count.</summary>
    public async Task<bool> TryTakeAsync(string trackingCode, string address, CancellationToken ct)
    {
        try
        {
            var taken = (long)await store.Database.ScriptEvaluateAsync(TakeScript, [$"share:clicks:{trackingCode}:{address}"], [3600]).WaitAsync(ct);
            return taken <= options.Value.ClicksPerAddressPerHour;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException)
        {
            // The visitor still gets the product page; only the count, which is a reward input, waits for the store.
            logger.LogWarning("Share click not counted: the hot store did not answer ({Error})", ex.Message);
            return false;
        }
    }
}
