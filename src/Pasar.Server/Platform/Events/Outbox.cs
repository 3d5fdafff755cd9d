using System.Data.Common;
using System.Text.Json;
using Dapper;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Platform.Events;

/// <summary>An event other modules react to. The type name is the wire name in the outbox.</summary>
internal interface IIntegrationEvent;

/// <summary>
/// Reacts to one kind of event. Runs inside a transaction that also records the delivery, so an effect
/// written with <c>tx</c> happens exactly once even when the event is delivered again after a crash.
/// </summary>
internal interface IEventHandler<in TEvent> where TEvent : IIntegrationEvent
{
    Task HandleAsync(TEvent @event, EventContext context, CancellationToken ct);
}

/// <summary>What a handler gets beside the event: its transaction and the event's identity.</summary>
internal sealed record EventContext(string EventId, DateTimeOffset OccurredAt, DbConnection Connection, DbTransaction Transaction)
{
    private readonly List<Func<Task>> _afterCommit = [];

    /// <summary>Work to run once the handler's transaction has committed (a live push of what it wrote).</summary>
    public void AfterCommit(Func<Task> action) => _afterCommit.Add(action);

    internal IReadOnlyList<Func<Task>> AfterCommitActions => _afterCommit;
}

/// <summary>Writes events into the outbox table inside the caller's transaction.</summary>
internal sealed class Outbox(TimeProvider time, OutboxSignal signal)
{
    public async Task<string> EnqueueAsync<TEvent>(DbConnection connection, DbTransaction tx, TEvent @event, CancellationToken ct)
        where TEvent : IIntegrationEvent
    {
        var eventId = Ids.New();
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO outbox (event_id, type, payload, created_at, next_attempt_at) VALUES (@eventId, @type, @payload, @now, @now)",
            new { eventId, type = typeof(TEvent).Name, payload = JsonSerializer.Serialize(@event, EventJson.Options), now },
            tx, cancellationToken: ct));
        signal.AfterCommit();
        return eventId;
    }
}

/// <summary>Wakes the local dispatcher when an event was written, so delivery does not wait for the next poll.</summary>
internal sealed class OutboxSignal
{
    private readonly SemaphoreSlim _signal = new(0, 1);

    public void AfterCommit()
    {
        try
        {
            if (_signal.CurrentCount == 0)
            {
                _signal.Release();
            }
        }
        catch (SemaphoreFullException)
        {
            // Already signalled.
        }
    }

    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken ct) => _signal.WaitAsync(timeout, ct);
}

internal static class EventJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web);
}
