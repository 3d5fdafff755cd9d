using System.Collections.Concurrent;
using Pasar.Server.Live;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.LiveRoom;

/// <summary>
/// The last 50 messages of each room this node serves, fed by every chat event, local or remote. A room's ring
/// lives while the room has members here: it goes when the last one leaves or the session ends, and is loaded
/// from SQL again on the next join.
/// </summary>
internal sealed class RecentChat
{
    public const int Size = 50;
    private readonly ConcurrentDictionary<string, LinkedList<ChatMessage>> _rooms = new(StringComparer.Ordinal);
    private readonly Database _database;
    private readonly RoomRegistry _registry;

    public RecentChat(Database database, RoomRegistry registry)
    {
        _database = database;
        _registry = registry;
        registry.SessionEmptied += Forget;
    }

    /// <summary>Rooms whose last messages are held (for tests and bounds).</summary>
    internal int RoomCount => _rooms.Count;

    public void Forget(string sessionId) => _rooms.TryRemove(sessionId, out _);

    public void Observe(RoomTarget target, string id, string method, object payload)
    {
        if (target == RoomTarget.Session && payload is SessionStatusChanged { Status: LiveStatus.Ended })
        {
            Forget(id);
            return;
        }

        if (target != RoomTarget.Session || !_rooms.TryGetValue(id, out var ring))
        {
            return;
        }

        lock (ring)
        {
            if (payload is ChatMessage[] messages)
            {
                foreach (var m in messages)
                {
                    ring.AddLast(m);
                    if (ring.Count > Size)
                    {
                        ring.RemoveFirst();
                    }
                }
            }
            else if (payload is ChatDeleted deleted)
            {
                var node = ring.First;
                while (node is not null && node.Value.Id != deleted.MessageId)
                {
                    node = node.Next;
                }

                if (node is not null)
                {
                    ring.Remove(node);
                }
            }
        }
    }

    public async Task<IReadOnlyList<ChatMessage>> GetAsync(RoomSession session, ChatWriter writer, CancellationToken ct)
    {
        var sessionId = session.Id;
        if (!_rooms.TryGetValue(sessionId, out var ring))
        {
            await writer.FlushAsync();
            await using var c = await _database.OpenAsync(ct);
            var rows = await ChatHistory.QueryAsync(c, sessionId, null, null, Size, ct);
            var loaded = new LinkedList<ChatMessage>(rows.Select(r => r.ToMessage(session.SellerId)).Reverse());
            ring = _rooms.GetOrAdd(sessionId, loaded);
            if (!_registry.HasMembers(sessionId))
            {
                Forget(sessionId); // the joiner left while this loaded: keep nothing for an empty room
            }
        }

        lock (ring)
        {
            return ring.ToList();
        }
    }
}
