using Microsoft.Extensions.Options;
using Pasar.Server.Platform.Redis;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.LiveRoom;

/// <summary>
/// Decides, once per tick per room on the node that accepted the messages, which viewer messages the whole room
/// is shown (SPEC §16, ADR 0020). The room's accepted and shown counts of the current second live in Redis/Garnet,
/// so every node samples against the same rate: below <c>Pasar:LiveRoom:MaxChatShownPerSecond</c> everything is
/// shown; above it each viewer message has the same chance, whichever node took it, and the second's total stays
/// under the cap. The seller's and moderators' messages are always shown. What is not shown is still stored,
/// counted and in history; the sender alone gets it (<see cref="ChatCoalescer"/>).
/// </summary>
internal sealed class ChatSampler(HotStore store, IOptions<LiveRoomOptions> options, TimeProvider time, ILogger<ChatSampler> logger)
{
    // KEYS: accepted this second, accepted last second, shown this second.
    // ARGV: messages of the tick, of which always shown, of which viewers'; the cap; a uniform random number in [0, 1).
    // The share of viewer messages kept is cap / rate, rounded at random so that it averages right, and never more than
    // what the second has left.
    private const string SampleScript = """
        local all = tonumber(ARGV[1])
        local cur = redis.call('INCRBY', KEYS[1], all)
        if cur == all then redis.call('PEXPIRE', KEYS[1], 3000) end
        local prev = tonumber(redis.call('GET', KEYS[2]) or '0')
        local cap = tonumber(ARGV[4])
        local m = tonumber(ARGV[3])
        local rate = math.max(cur, prev)
        local k = m
        if rate > cap then k = math.floor(m * cap / rate + tonumber(ARGV[5])) end
        local shown = tonumber(redis.call('GET', KEYS[3]) or '0')
        local left = cap - shown
        if left < 0 then left = 0 end
        if k > left then k = left end
        local add = k + tonumber(ARGV[2])
        if add > 0 then
            local v = redis.call('INCRBY', KEYS[3], add)
            if v == add then redis.call('PEXPIRE', KEYS[3], 3000) end
        end
        return k
        """;

    /// <summary>Splits a tick's messages of one room into what the room is shown and what only each sender sees.</summary>
    public async Task<(List<ChatMessage> Shown, List<PendingChat> OwnOnly)> SampleAsync(string sessionId, IReadOnlyList<PendingChat> batch)
    {
        var shown = new List<ChatMessage>(batch.Count);
        var ownOnly = new List<PendingChat>();
        var viewers = 0;
        foreach (var p in batch)
        {
            if (!IsAlwaysShown(p.Message))
            {
                viewers++;
            }
        }

        int keep;
        try
        {
            var second = time.GetUtcNow().ToUnixTimeSeconds();
            keep = (int)(long)await store.Database.ScriptEvaluateAsync(SampleScript,
                [$"chat:accepted:{sessionId}:{second}", $"chat:accepted:{sessionId}:{second - 1}", $"chat:shown:{sessionId}:{second}"],
                [batch.Count, batch.Count - viewers, viewers, options.Value.MaxChatShownPerSecond, Random.Shared.NextDouble()]);
        }
        catch (Exception ex) when (StoreFaults.IsUnavailable(ex) || ex is StackExchange.Redis.RedisException)
        {
            // Without the shared counts the room cannot be sampled fairly: it is shown everything, as before sampling.
            logger.LogWarning("Chat sampling for {Session} skipped: {Error}", sessionId, StoreFaults.Describe(ex));
            keep = viewers;
        }

        // A uniform random subset of this tick's viewer messages, in their order of arrival.
        var chosen = Choose(viewers, Math.Clamp(keep, 0, viewers));
        var v = 0;
        foreach (var p in batch)
        {
            if (IsAlwaysShown(p.Message) || chosen[v++])
            {
                shown.Add(p.Message);
            }
            else
            {
                ownOnly.Add(p);
            }
        }

        return (shown, ownOnly);
    }

    private static bool IsAlwaysShown(ChatMessage m) => m.Role is ChatRoles.Seller or ChatRoles.Moderator;

    private static bool[] Choose(int n, int k)
    {
        var chosen = new bool[n];
        if (k >= n)
        {
            Array.Fill(chosen, true);
            return chosen;
        }

        var order = new int[n];
        for (var i = 0; i < n; i++)
        {
            order[i] = i;
        }

        // A partial Fisher-Yates shuffle: the first k of the order are a uniform sample.
        for (var i = 0; i < k; i++)
        {
            var j = Random.Shared.Next(i, n);
            (order[i], order[j]) = (order[j], order[i]);
            chosen[order[i]] = true;
        }

        return chosen;
    }
}

/// <summary>An accepted chat message waiting for its tick, with the connection that sent it (which always sees it).</summary>
internal readonly record struct PendingChat(ChatMessage Message, string? ConnectionId);
