using System.Collections.Concurrent;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;

namespace Pasar.Server.LiveRoom;

/// <summary>
/// A connection of this node with its own bounded send queue. Writes that have not reached the transport
/// yet are counted; a connection that stops reading runs out of room and is dropped (it may reconnect),
/// so it never delays what everyone else receives nor grows memory without bound.
/// </summary>
internal sealed class RoomMember(HubConnectionContext connection, string viewerId, string? viewerToken, int maxPendingWrites, Action<RoomMember> onDropped)
{
    private int _pending;
    private int _dropped;

    public HubConnectionContext Connection { get; } = connection;

    public string ConnectionId => Connection.ConnectionId;

    /// <summary>The user id when signed in, else the anonymous viewer id the server issued (<see cref="ViewerIds"/>).</summary>
    public string ViewerId { get; } = viewerId;

    /// <summary>For an anonymous viewer, the signed id to keep and present on the next connection.</summary>
    public string? ViewerToken { get; } = viewerToken;

    public string? UserId => Connection.User?.Identity?.IsAuthenticated == true ? Connection.User.FindFirst("sub")?.Value : null;

    public MemberKeys Sessions { get; } = new();

    public MemberKeys Products { get; } = new();

    public int PendingWrites => Volatile.Read(ref _pending);

    public void Write(SerializedHubMessage message)
    {
        if (Volatile.Read(ref _dropped) == 1)
        {
            return;
        }

        if (Interlocked.Increment(ref _pending) > maxPendingWrites)
        {
            Drop();
            return;
        }

        var write = Connection.WriteAsync(message);
        if (write.IsCompletedSuccessfully)
        {
            Interlocked.Decrement(ref _pending);
        }
        else
        {
            _ = CompleteAsync(write);
        }
    }

    private async Task CompleteAsync(ValueTask write)
    {
        try
        {
            await write;
        }
        catch (Exception)
        {
            // The connection is going away; its disconnect cleans up.
        }
        finally
        {
            Interlocked.Decrement(ref _pending);
        }
    }

    private void Drop()
    {
        if (Interlocked.Exchange(ref _dropped, 1) == 0)
        {
            onDropped(this);
            Connection.Abort();
        }
    }
}

/// <summary>
/// This node's room memberships: which local connections watch which session and product. A room or product
/// with no member left here is removed, so made-up ids and ended rooms leave nothing behind.
/// </summary>
internal sealed class RoomRegistry(Platform.PasarMetrics metrics, ViewerIds viewerIds)
{
    private readonly ConcurrentDictionary<string, RoomMember> _members = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, MemberSet> _sessions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, MemberSet> _products = new(StringComparer.Ordinal);

    public int MaxPendingWrites { get; set; } = 64;

    public int ConnectionCount => _members.Count;

    /// <summary>Rooms and products with members on this node (what the index holds: for tests and bounds).</summary>
    internal (int Sessions, int Products) IndexSizes => (_sessions.Count, _products.Count);

    /// <summary>Raised when the last member of a session on this node leaves (its per-room caches may go).</summary>
    public event Action<string>? SessionEmptied;

    public RoomMember Add(HubConnectionContext connection)
    {
        var (viewerId, token) = ViewerIdOf(connection);
        var member = new RoomMember(connection, viewerId, token, MaxPendingWrites, _ => metrics.SlowConsumersDropped.Add(1));
        _members[connection.ConnectionId] = member;
        return member;
    }

    public RoomMember? Find(string connectionId) => _members.GetValueOrDefault(connectionId);

    public RoomMember? Remove(string connectionId)
    {
        if (!_members.TryRemove(connectionId, out var member))
        {
            return null;
        }

        foreach (var s in member.Sessions.Snapshot())
        {
            Leave(member, s);
        }

        foreach (var p in member.Products.Snapshot())
        {
            Unwatch(member, p);
        }

        return member;
    }

    /// <summary>Adds the member to the session; false when it is already in <see cref="HubLimits.MaxJoinedSessions"/> others.</summary>
    public bool Join(RoomMember member, string sessionId)
    {
        if (!member.Sessions.TryAdd(sessionId, HubLimits.MaxJoinedSessions))
        {
            return false;
        }

        MemberSet.Add(_sessions, sessionId, member);
        return true;
    }

    public void Leave(RoomMember member, string sessionId)
    {
        member.Sessions.Remove(sessionId);
        if (MemberSet.Remove(_sessions, sessionId, member))
        {
            SessionEmptied?.Invoke(sessionId);
        }
    }

    /// <summary>Adds a watched product; false when the member already watches <see cref="HubLimits.MaxWatchedProducts"/> others.</summary>
    public bool Watch(RoomMember member, string productId)
    {
        if (!member.Products.TryAdd(productId, HubLimits.MaxWatchedProducts))
        {
            return false;
        }

        MemberSet.Add(_products, productId, member);
        return true;
    }

    public void Unwatch(RoomMember member, string productId)
    {
        member.Products.Remove(productId);
        MemberSet.Remove(_products, productId, member);
    }

    // Enumerated, not .Values: Values takes every lock of the dictionary and copies it, once per room event,
    // stalling joins and leaves behind a 10,000-member copy; the enumerator is lock-free and copies nothing.
    public IEnumerable<RoomMember> InSession(string sessionId) =>
        _sessions.TryGetValue(sessionId, out var room) ? room.Members.Select(static kv => kv.Value) : [];

    public IEnumerable<RoomMember> Watching(string productId) =>
        _products.TryGetValue(productId, out var watchers) ? watchers.Members.Select(static kv => kv.Value) : [];

    /// <summary>Sessions with at least one member on this node.</summary>
    public IEnumerable<string> ActiveSessions => _sessions.Where(kv => !kv.Value.Members.IsEmpty).Select(kv => kv.Key);

    public bool HasMembers(string sessionId) => _sessions.TryGetValue(sessionId, out var room) && !room.Members.IsEmpty;

    /// <summary>Whether another connection of the same viewer is still in the session on this node.</summary>
    public bool ViewerStillIn(string sessionId, string viewerId, string exceptConnectionId) =>
        InSession(sessionId).Any(m => m.ViewerId == viewerId && m.ConnectionId != exceptConnectionId);

    /// <summary>The viewer id of a signed-in user (anonymous viewers' ids start with "a:").</summary>
    internal static string UserViewerId(string userId) => "u:" + userId;

    private (string ViewerId, string? Token) ViewerIdOf(HubConnectionContext connection)
    {
        var sub = connection.User?.Identity?.IsAuthenticated == true ? connection.User.FindFirst("sub")?.Value : null;
        if (sub is not null)
        {
            return (UserViewerId(sub), null);
        }

        // Only an id this deployment signed is believed; anything else gets a fresh one, so that a connection
        // is at most one viewer however many ids it makes up.
        var presented = connection.GetHttpContext()?.Request.Query["anonId"].ToString();
        if (viewerIds.TryRead(presented, out var id))
        {
            return ("a:" + id, presented);
        }

        var (fresh, token) = viewerIds.Issue();
        return ("a:" + fresh, token);
    }

    /// <summary>
    /// The members of one room or product. Adding, and removing an emptied set from the index, take the set's
    /// lock, so a member is never added to a set that has just left the index; fan-out reads without it.
    /// </summary>
    private sealed class MemberSet
    {
        private bool _retired;

        public ConcurrentDictionary<string, RoomMember> Members { get; } = new(StringComparer.Ordinal);

        public static void Add(ConcurrentDictionary<string, MemberSet> index, string key, RoomMember member)
        {
            while (true)
            {
                var set = index.GetOrAdd(key, static _ => new MemberSet());
                lock (set)
                {
                    if (!set._retired)
                    {
                        set.Members[member.ConnectionId] = member;
                        return;
                    }
                }
            }
        }

        /// <summary>Removes the member; true when that emptied the set and it left the index.</summary>
        public static bool Remove(ConcurrentDictionary<string, MemberSet> index, string key, RoomMember member)
        {
            if (!index.TryGetValue(key, out var set))
            {
                return false;
            }

            lock (set)
            {
                if (!set.Members.TryRemove(member.ConnectionId, out _) || !set.Members.IsEmpty || set._retired)
                {
                    return false;
                }

                set._retired = true;
                index.TryRemove(new KeyValuePair<string, MemberSet>(key, set));
                return true;
            }
        }
    }
}

/// <summary>
/// Wraps SignalR's lifetime manager (in-process, or the Redis backplane) to see each connection's
/// <see cref="HubConnectionContext"/>: room fan-out writes one pre-serialized frame to each member instead
/// of serializing per connection.
/// </summary>
internal sealed class RoomLifetimeManager<THub>(HubLifetimeManager<THub> inner, RoomRegistry registry) : HubLifetimeManager<THub>
    where THub : Hub
{
    public override async Task OnConnectedAsync(HubConnectionContext connection)
    {
        registry.Add(connection);
        await inner.OnConnectedAsync(connection);
    }

    public override async Task OnDisconnectedAsync(HubConnectionContext connection)
    {
        await inner.OnDisconnectedAsync(connection);
        registry.Remove(connection.ConnectionId);
    }

    public override Task SendAllAsync(string methodName, object?[] args, CancellationToken cancellationToken = default) => inner.SendAllAsync(methodName, args, cancellationToken);
    public override Task SendAllExceptAsync(string methodName, object?[] args, IReadOnlyList<string> excludedConnectionIds, CancellationToken cancellationToken = default) => inner.SendAllExceptAsync(methodName, args, excludedConnectionIds, cancellationToken);
    public override Task SendConnectionAsync(string connectionId, string methodName, object?[] args, CancellationToken cancellationToken = default) => inner.SendConnectionAsync(connectionId, methodName, args, cancellationToken);
    public override Task SendConnectionsAsync(IReadOnlyList<string> connectionIds, string methodName, object?[] args, CancellationToken cancellationToken = default) => inner.SendConnectionsAsync(connectionIds, methodName, args, cancellationToken);
    public override Task SendGroupAsync(string groupName, string methodName, object?[] args, CancellationToken cancellationToken = default) => inner.SendGroupAsync(groupName, methodName, args, cancellationToken);
    public override Task SendGroupsAsync(IReadOnlyList<string> groupNames, string methodName, object?[] args, CancellationToken cancellationToken = default) => inner.SendGroupsAsync(groupNames, methodName, args, cancellationToken);
    public override Task SendGroupExceptAsync(string groupName, string methodName, object?[] args, IReadOnlyList<string> excludedConnectionIds, CancellationToken cancellationToken = default) => inner.SendGroupExceptAsync(groupName, methodName, args, excludedConnectionIds, cancellationToken);
    public override Task SendUserAsync(string userId, string methodName, object?[] args, CancellationToken cancellationToken = default) => inner.SendUserAsync(userId, methodName, args, cancellationToken);
    public override Task SendUsersAsync(IReadOnlyList<string> userIds, string methodName, object?[] args, CancellationToken cancellationToken = default) => inner.SendUsersAsync(userIds, methodName, args, cancellationToken);
    public override Task AddToGroupAsync(string connectionId, string groupName, CancellationToken cancellationToken = default) => inner.AddToGroupAsync(connectionId, groupName, cancellationToken);
    public override Task RemoveFromGroupAsync(string connectionId, string groupName, CancellationToken cancellationToken = default) => inner.RemoveFromGroupAsync(connectionId, groupName, cancellationToken);
    public override Task<T> InvokeConnectionAsync<T>(string connectionId, string methodName, object?[] args, CancellationToken cancellationToken) => inner.InvokeConnectionAsync<T>(connectionId, methodName, args, cancellationToken);
    public override Task SetConnectionResultAsync(string connectionId, CompletionMessage result) => inner.SetConnectionResultAsync(connectionId, result);
    public override bool TryGetReturnType(string invocationId, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out Type? type) => inner.TryGetReturnType(invocationId, out type);
}

/// <summary>
/// The few sessions a connection has joined, or products it watches (bounded by <see cref="HubLimits"/>): a copied-on-write
/// array behind a lock. Every viewer has two, so they are kept small: a ConcurrentDictionary costs a bucket table and a
/// lock per core on each (about 1.3 KB per viewer on 2 cores, bench chat-memory), for a set of one or two keys.
/// </summary>
internal sealed class MemberKeys
{
    private readonly Lock _gate = new();
    private string[] _keys = [];

    public int Count => Volatile.Read(ref _keys).Length;

    public bool Contains(string key) => Array.IndexOf(Volatile.Read(ref _keys), key) >= 0;

    /// <summary>Adds the key (true when it is there already); false when <paramref name="limit"/> others are there.</summary>
    public bool TryAdd(string key, int limit)
    {
        lock (_gate)
        {
            if (Array.IndexOf(_keys, key) >= 0)
            {
                return true;
            }

            if (_keys.Length >= limit)
            {
                return false;
            }

            Volatile.Write(ref _keys, [.. _keys, key]);
            return true;
        }
    }

    public void Remove(string key)
    {
        lock (_gate)
        {
            if (Array.IndexOf(_keys, key) >= 0)
            {
                Volatile.Write(ref _keys, _keys.Where(k => !string.Equals(k, key, StringComparison.Ordinal)).ToArray());
            }
        }
    }

    /// <summary>The keys now; safe to enumerate while keys are added or removed.</summary>
    public string[] Snapshot() => Volatile.Read(ref _keys);
}
