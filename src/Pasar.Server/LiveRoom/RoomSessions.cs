using System.Collections.Concurrent;
using Pasar.Server.Live;

namespace Pasar.Server.LiveRoom;

public sealed record RoomSession(string Id, string SellerId, string Status);

/// <summary>
/// The live sessions the rooms need on every chat message (owner, status), cached for a few seconds and
/// refreshed as soon as a status change passes through the room.
/// </summary>
internal sealed class RoomSessions(LiveSessionStore store, TimeProvider time)
{
    private static readonly TimeSpan Fresh = TimeSpan.FromSeconds(5);
    private const int MaxEntries = 10_000;
    private readonly ConcurrentDictionary<string, (RoomSession? Session, long At)> _cache = new(StringComparer.Ordinal);

    public async Task<RoomSession?> FindAsync(string sessionId, CancellationToken ct)
    {
        var now = time.GetTimestamp();
        if (_cache.TryGetValue(sessionId, out var hit) && time.GetElapsedTime(hit.At) < Fresh)
        {
            return hit.Session;
        }

        var row = await store.FindAsync(sessionId, ct);
        var session = row is null ? null : new RoomSession(row.Id, row.SellerId, row.Status);
        if (_cache.Count >= MaxEntries)
        {
            // Made-up ids are cached as misses too: past the bound, what is no longer fresh goes.
            foreach (var (id, entry) in _cache)
            {
                if (time.GetElapsedTime(entry.At) >= Fresh)
                {
                    _cache.TryRemove(id, out _);
                }
            }
        }

        if (_cache.Count < MaxEntries)
        {
            _cache[sessionId] = (session, now);
        }

        return session;
    }

    /// <summary>The seller of a session looked up before, fresh or not (a session's seller never changes); null if not cached.</summary>
    public string? KnownSeller(string sessionId) => _cache.TryGetValue(sessionId, out var hit) ? hit.Session?.SellerId : null;

    public void Observe(RoomTarget target, string id, string method, object payload)
    {
        if (target == RoomTarget.Session && method == "sessionStatus")
        {
            _cache.TryRemove(id, out _);
        }
    }

    internal int Count => _cache.Count;
}
