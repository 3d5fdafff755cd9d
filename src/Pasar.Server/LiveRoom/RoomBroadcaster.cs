using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Redis;
using StackExchange.Redis;

namespace Pasar.Server.LiveRoom;

internal enum RoomTarget
{
    Session,
    Product,
}

/// <summary>
/// Sends a room event to every viewer of a live session (or every watcher of a product) on every node:
/// this node's members directly, other nodes through one Redis/Garnet pub/sub channel, each node writing
/// one pre-serialized frame to each of its own members. Handlers registered with <see cref="OnEvent"/> see
/// every event, local or remote, before it goes out (the recent-chat ring uses this).
/// </summary>
internal sealed class RoomBroadcaster : IHostedService
{
    private readonly RoomRegistry _registry;
    private readonly HotStore _store;
    private readonly PasarMetrics _metrics;
    private readonly ILogger<RoomBroadcaster> _logger;
    private readonly string _node = Guid.NewGuid().ToString("N");
    private readonly RedisChannel _channel;
    private readonly ConcurrentDictionary<string, Type> _payloadTypes = new(StringComparer.Ordinal);
    private readonly List<Action<RoomTarget, string, string, object>> _observers = [];
    private readonly SemaphoreSlim[] _gates = [.. Enumerable.Range(0, 64).Select(_ => new SemaphoreSlim(1, 1))];

    /// <summary>Members written between two yields to the thread pool.</summary>
    internal const int Slice = 256;

    public RoomBroadcaster(RoomRegistry registry, HotStore store, PasarMetrics metrics, ILogger<RoomBroadcaster> logger)
    {
        _registry = registry;
        _store = store;
        _metrics = metrics;
        _logger = logger;
        _channel = RedisChannel.Literal(store.KeyPrefix + "room-events");
    }

    /// <summary>Declares the payload type of a client method, so that events from other nodes deserialize to it.</summary>
    public void Register<T>(string method) => _payloadTypes[method] = typeof(T);

    /// <summary>Observes every event before it is sent (method, target, id, payload).</summary>
    public void OnEvent(Action<RoomTarget, string, string, object> observer) => _observers.Add(observer);

    public async Task PublishAsync<T>(RoomTarget target, string id, string method, T payload) where T : notnull
    {
        var local = DeliverAsync(target, id, method, payload);
        var envelope = JsonSerializer.Serialize(new Envelope(_node, target, id, method, JsonSerializer.SerializeToElement(payload, JsonSerializerOptions.Web)), JsonSerializerOptions.Web);
        try
        {
            await _store.Connection.GetSubscriber().PublishAsync(_channel, envelope);
        }
        catch (Exception ex) when (Platform.Storage.StoreFaults.IsUnavailable(ex) || ex is RedisException)
        {
            // This node's members still get it; other nodes' members see the state on their next read.
            _logger.LogWarning("Could not publish {Method} for {Target} {Id} to other nodes: {Error}", method, target, id, Platform.Storage.StoreFaults.Describe(ex));
        }

        await local;
    }

    /// <summary>
    /// Writes the event to every member, <see cref="Slice"/> members at a time. Each write hands the connection's
    /// send to the thread pool's queue, behind which everything else waits (chat being sent, API requests): a
    /// 10,000-member room would put 10,000 items ahead of them at once. Yielding between slices lets what arrived
    /// meanwhile run in between. A room's events stay in order for every member: one delivery per room at a
    /// time (striped gates, bounded memory), taken in arrival order. The coalescer awaits this, so when the
    /// machine falls behind, its next tick waits and carries more messages instead of queueing more frames.
    /// </summary>
    private async Task DeliverAsync(RoomTarget target, string id, string method, object payload)
    {
        foreach (var observer in _observers)
        {
            observer(target, id, method, payload);
        }

        var gate = _gates[(int)((uint)HashCode.Combine(target, StringComparer.Ordinal.GetHashCode(id)) % (uint)_gates.Length)];
        await gate.WaitAsync();
        try
        {
            var members = target == RoomTarget.Session ? _registry.InSession(id) : _registry.Watching(id);
            SerializedHubMessage? message = null;
            var count = 0;
            foreach (var member in members)
            {
                // Serialized once per protocol (JSON, MessagePack) for the whole room, not once per connection.
                message ??= new SerializedHubMessage(new InvocationMessage(method, [payload]));
                member.Write(message);
                if (++count % Slice == 0)
                {
                    await Task.Yield();
                }
            }

            if (count > 0)
            {
                _metrics.RoomDeliveries.Add(count);
            }
        }
        finally
        {
            gate.Release();
        }
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var queue = await _store.Connection.GetSubscriber().SubscribeAsync(_channel);
        queue.OnMessage(message =>
        {
            try
            {
                var envelope = JsonSerializer.Deserialize<Envelope>(message.Message.ToString(), JsonSerializerOptions.Web);
                if (envelope is null || envelope.Node == _node)
                {
                    return;
                }

                var type = _payloadTypes.GetValueOrDefault(envelope.Method) ?? typeof(JsonElement);
                var payload = envelope.Payload.Deserialize(type, JsonSerializerOptions.Web);
                if (payload is not null)
                {
                    // Observers run and the room's gate is queued for before the next message is handled: order holds.
                    _ = DeliverAsync(envelope.Target, envelope.Id, envelope.Method, payload);
                }
            }
            catch (JsonException ex)
            {
                _logger.LogWarning(ex, "Dropped an unreadable room event");
            }
        });
    }

    public Task StopAsync(CancellationToken cancellationToken) => _store.Connection.GetSubscriber().UnsubscribeAsync(_channel);

    private sealed record Envelope(string Node, RoomTarget Target, string Id, string Method, JsonElement Payload);
}
