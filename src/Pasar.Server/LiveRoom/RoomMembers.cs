using System.Collections.Concurrent;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;

namespace Pasar.Server.LiveRoom;

/// <summary>
/// A connection of this node with its own bounded send queue. Writes that have not reached the transport
/// yet are counted; a connection that stops reading runs out of room and is dropped (it may reconnect),
/// so it never delays what everyone else receives nor grows memory without bound.
/// </summary>
internal sealed class RoomMember(HubConnectionContext connection, string viewerId, int maxPendingWrites, Action<RoomMember> onDropped)
{
    private int _pending;
    private int _dropped;

    public HubConnectionContext Connection { get; } = connection;

    public string ConnectionId => Connection.ConnectionId;

    /// <summary>The user id when signed in, else the browser's anonymous id, else the connection id.</summary>
    public string ViewerId { get; } = viewerId;

    public string? UserId => Connection.User?.Identity?.IsAuthenticated == true ? Connection.User.FindFirst("sub")?.Value : null;

    public ConcurrentDictionary<string, byte> Sessions { get; } = new(StringComparer.Ordinal);

    public ConcurrentDictionary<string, byte> Products { get; } = new(StringComparer.Ordinal);

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

/// <summary>This node's room memberships: which local connections watch which session and product.</summary>
internal sealed class RoomRegistry(Platform.PasarMetrics metrics)
{
    private readonly ConcurrentDictionary<string, RoomMember> _members = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, RoomMember>> _sessions = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, RoomMember>> _products = new(StringComparer.Ordinal);

    public int MaxPendingWrites { get; set; } = 64;

    public int ConnectionCount => _members.Count;

    public RoomMember Add(HubConnectionContext connection)
    {
        var member = new RoomMember(connection, ViewerIdOf(connection), MaxPendingWrites, _ => metrics.SlowConsumersDropped.Add(1));
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

        foreach (var s in member.Sessions.Keys)
        {
            Leave(member, s);
        }

        foreach (var p in member.Products.Keys)
        {
            Unwatch(member, p);
        }

        return member;
    }

    public void Join(RoomMember member, string sessionId)
    {
        member.Sessions.TryAdd(sessionId, 0);
        _sessions.GetOrAdd(sessionId, _ => new(StringComparer.Ordinal))[member.ConnectionId] = member;
    }

    public void Leave(RoomMember member, string sessionId)
    {
        member.Sessions.TryRemove(sessionId, out _);
        if (_sessions.TryGetValue(sessionId, out var room))
        {
            room.TryRemove(member.ConnectionId, out _);
        }
    }

    public void Watch(RoomMember member, string productId)
    {
        member.Products.TryAdd(productId, 0);
        _products.GetOrAdd(productId, _ => new(StringComparer.Ordinal))[member.ConnectionId] = member;
    }

    public void Unwatch(RoomMember member, string productId)
    {
        member.Products.TryRemove(productId, out _);
        if (_products.TryGetValue(productId, out var watchers))
        {
            watchers.TryRemove(member.ConnectionId, out _);
        }
    }

    public IEnumerable<RoomMember> InSession(string sessionId) =>
        _sessions.TryGetValue(sessionId, out var room) ? room.Values : [];

    public IEnumerable<RoomMember> Watching(string productId) =>
        _products.TryGetValue(productId, out var watchers) ? watchers.Values : [];

    /// <summary>Sessions with at least one member on this node.</summary>
    public IEnumerable<string> ActiveSessions => _sessions.Where(kv => !kv.Value.IsEmpty).Select(kv => kv.Key);

    /// <summary>Whether another connection of the same viewer is still in the session on this node.</summary>
    public bool ViewerStillIn(string sessionId, string viewerId, string exceptConnectionId) =>
        InSession(sessionId).Any(m => m.ViewerId == viewerId && m.ConnectionId != exceptConnectionId);

    private static string ViewerIdOf(HubConnectionContext connection)
    {
        var sub = connection.User?.Identity?.IsAuthenticated == true ? connection.User.FindFirst("sub")?.Value : null;
        if (sub is not null)
        {
            return "u:" + sub;
        }

        var anon = connection.GetHttpContext()?.Request.Query["anonId"].ToString();
        return !string.IsNullOrEmpty(anon) && anon.Length is >= 8 and <= 64 && anon.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_')
            ? "a:" + anon
            : "c:" + connection.ConnectionId;
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
