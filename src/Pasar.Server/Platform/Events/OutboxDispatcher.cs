using System.Diagnostics.Metrics;
using System.Text.Json;
using Dapper;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Platform.Events;

/// <summary>
/// Delivers outbox events to their handlers. Rows are leased (locked_by/locked_until) so several nodes can
/// run dispatchers over one database without delivering an event twice at once; a lease that expires
/// (its node died) is taken over. Each handler's delivery is recorded in the handler's own transaction.
/// </summary>
internal sealed class OutboxDispatcher(
    Database database,
    EventHandlerRegistry registry,
    OutboxSignal signal,
    TimeProvider time,
    PasarMetrics metrics,
    ILogger<OutboxDispatcher> logger) : BackgroundService
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(500);
    private const int BatchSize = 100;
    private readonly string _node = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}";

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            int delivered;
            try
            {
                delivered = await DispatchBatchAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                logger.LogError(ex, "Outbox dispatch failed; retrying");
                delivered = 0;
                await Task.Delay(Poll, stoppingToken).ContinueWith(_ => { }, TaskScheduler.Default);
            }

            if (delivered == 0)
            {
                try
                {
                    await signal.WaitAsync(Poll, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }

        // A clean shutdown drains what is already claimable, without waiting on new work.
        try
        {
            using var drain = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            while (await DispatchBatchAsync(drain.Token) > 0)
            {
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException)
        {
        }
    }

    /// <summary>Claims and delivers one batch; returns how many events it completed.</summary>
    internal async Task<int> DispatchBatchAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var claimed = await database.InTransactionAsync(async (c, tx) =>
        {
            // The lease condition is repeated on the outer UPDATE so that, on PostgreSQL, a row another node
            // leased meanwhile is re-checked after its lock and skipped.
            var rows = await c.QueryAsync<OutboxRow>(new CommandDefinition(
                """
                UPDATE outbox SET locked_by = @node, locked_until = @until
                WHERE id IN (
                    SELECT id FROM outbox
                    WHERE dispatched_at IS NULL AND next_attempt_at <= @now AND (locked_until IS NULL OR locked_until < @now)
                    ORDER BY id LIMIT @batch)
                  AND dispatched_at IS NULL AND (locked_until IS NULL OR locked_until < @now)
                RETURNING id AS Id, event_id AS EventId, type AS Type, payload AS Payload, created_at AS CreatedAt, attempts AS Attempts
                """,
                new { node = _node, until = now + (long)Lease.TotalMilliseconds, now, batch = BatchSize }, tx, cancellationToken: ct));
            return rows.OrderBy(r => r.Id).ToList();
        }, ct);

        var done = 0;
        foreach (var row in claimed)
        {
            if (await DeliverAsync(row, ct))
            {
                done++;
            }
        }

        return done;
    }

    private async Task<bool> DeliverAsync(OutboxRow row, CancellationToken ct)
    {
        try
        {
            foreach (var handler in registry.HandlersFor(row.Type))
            {
                EventContext? delivered = null;
                await database.InTransactionAsync(async (c, tx) =>
                {
                    var first = await c.ExecuteAsync(new CommandDefinition(
                        "INSERT INTO outbox_deliveries (event_id, handler, delivered_at) VALUES (@eventId, @handler, @now) ON CONFLICT DO NOTHING",
                        new { eventId = row.EventId, handler = handler.Name, now = time.GetUtcNow().ToUnixTimeMilliseconds() }, tx, cancellationToken: ct));
                    if (first == 0)
                    {
                        return; // this handler already ran for this event before a crash or a lost lease
                    }

                    var context = new EventContext(row.EventId, DateTimeOffset.FromUnixTimeMilliseconds(row.CreatedAt), c, tx);
                    await handler.InvokeAsync(row.Payload, context, ct);
                    delivered = context;
                }, ct);
                foreach (var action in delivered?.AfterCommitActions ?? [])
                {
                    try
                    {
                        await action();
                    }
                    catch (Exception ex)
                    {
                        // The effect is committed; only its live push failed. The user sees it on the next read.
                        logger.LogWarning(ex, "After-commit action of {Handler} for {EventId} failed", handler.Name, row.EventId);
                    }
                }
            }

            await database.InTransactionAsync(async (c, tx) =>
                await c.ExecuteAsync(new CommandDefinition(
                    "UPDATE outbox SET dispatched_at = @now, locked_by = NULL, locked_until = NULL WHERE id = @id",
                    new { now = time.GetUtcNow().ToUnixTimeMilliseconds(), id = row.Id }, tx, cancellationToken: ct)), ct);
            metrics.OutboxDelivered.Add(1, new KeyValuePair<string, object?>("type", row.Type));
            return true;
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            var attempts = row.Attempts + 1;
            var backoff = TimeSpan.FromSeconds(Math.Min(300, Math.Pow(2, Math.Min(attempts, 9))));
            logger.LogWarning(ex, "Event {EventId} ({Type}) failed on attempt {Attempt}; next try in {Backoff}", row.EventId, row.Type, attempts, backoff);
            metrics.OutboxFailures.Add(1, new KeyValuePair<string, object?>("type", row.Type));
            await database.InTransactionAsync(async (c, tx) =>
                await c.ExecuteAsync(new CommandDefinition(
                    "UPDATE outbox SET attempts = @attempts, next_attempt_at = @next, locked_by = NULL, locked_until = NULL, last_error = @error WHERE id = @id",
                    new { attempts, next = time.GetUtcNow().Add(backoff).ToUnixTimeMilliseconds(), error = ex.Message, id = row.Id }, tx, cancellationToken: CancellationToken.None)),
                CancellationToken.None);
            return false;
        }
    }

    private sealed class OutboxRow
    {
        public long Id { get; init; }
        public string EventId { get; init; } = "";
        public string Type { get; init; } = "";
        public string Payload { get; init; } = "";
        public long CreatedAt { get; init; }
        public int Attempts { get; init; }
    }
}

/// <summary>The handlers modules registered, by event wire name.</summary>
public sealed class EventHandlerRegistry(IServiceProvider services, IEnumerable<EventHandlerRegistration> registrations)
{
    private readonly ILookup<string, EventHandlerRegistration> _byType = registrations.ToLookup(r => r.EventType);

    internal IEnumerable<BoundHandler> HandlersFor(string eventType) =>
        _byType[eventType].Select(r => new BoundHandler(r.Name, (payload, context, ct) => r.Invoke(services, payload, context, ct)));

    internal sealed record BoundHandler(string Name, Func<string, EventContext, CancellationToken, Task> InvokeAsync);
}

/// <summary>One handler bound to one event type; made by <see cref="EventRegistrationExtensions.AddEventHandler{TEvent, THandler}"/>.</summary>
public sealed record EventHandlerRegistration(
    string EventType,
    string Name,
    Func<IServiceProvider, string, EventContext, CancellationToken, Task> Invoke);

public static class EventRegistrationExtensions
{
    /// <summary>Registers <typeparamref name="THandler"/> for <typeparamref name="TEvent"/>. The handler's type name is its delivery identity: keep it stable.</summary>
    public static IServiceCollection AddEventHandler<TEvent, THandler>(this IServiceCollection services)
        where TEvent : IIntegrationEvent
        where THandler : class, IEventHandler<TEvent>
    {
        services.AddScoped<THandler>();
        services.AddSingleton(new EventHandlerRegistration(
            typeof(TEvent).Name,
            typeof(THandler).Name,
            async (sp, payload, context, ct) =>
            {
                var @event = JsonSerializer.Deserialize<TEvent>(payload, EventJson.Options)
                    ?? throw new InvalidOperationException($"Event {context.EventId} has an empty payload.");
                await using var scope = sp.CreateAsyncScope();
                await scope.ServiceProvider.GetRequiredService<THandler>().HandleAsync(@event, context, ct);
            }));
        return services;
    }
}
