using System.Diagnostics.Metrics;
using System.Text.Json;
using Dapper;
using Microsoft.Extensions.Options;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Platform.Events;

/// <summary>
/// Delivers outbox events to their handlers. Rows are leased (locked_by/locked_until) so several nodes can
/// run dispatchers over one database without delivering an event twice at once. Leases are short and renewed
/// while the batch is being delivered, so a node that died (kill -9) hands its work over within
/// <see cref="OutboxOptions.Lease"/>, not after a long fixed lease. Each handler's delivery is recorded in the
/// handler's own transaction, so a batch taken over mid-way applies nothing twice. An event that keeps failing
/// is dead-lettered after <see cref="OutboxOptions.MaxAttempts"/>; an unavailable database is not the event's
/// fault and is waited out without counting an attempt.
/// </summary>
internal sealed class OutboxDispatcher : BackgroundService
{
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(500);
    private static readonly TimeSpan DeadLetterRecount = TimeSpan.FromSeconds(30);
    private const int BatchSize = 100;
    private readonly string _node = $"{Environment.MachineName}:{Environment.ProcessId}:{Guid.NewGuid():N}";
    private readonly Database _database;
    private readonly EventHandlerRegistry _registry;
    private readonly OutboxSignal _signal;
    private readonly TimeProvider _time;
    private readonly PasarMetrics _metrics;
    private readonly OutboxOptions _options;
    private readonly ILogger<OutboxDispatcher> _logger;
    private readonly Counter<long> _deadLettered;
    private long _deadLetters;
    private long _deadLettersCountedAt = long.MinValue;

    public OutboxDispatcher(
        Database database,
        EventHandlerRegistry registry,
        OutboxSignal signal,
        TimeProvider time,
        PasarMetrics metrics,
        IOptions<OutboxOptions> options,
        ILogger<OutboxDispatcher> logger)
    {
        _database = database;
        _registry = registry;
        _signal = signal;
        _time = time;
        _metrics = metrics;
        _options = options.Value;
        _logger = logger;
        _deadLettered = metrics.Meter.CreateCounter<long>("pasar.outbox.dead_lettered", description: "Events given up after Pasar:Outbox:MaxAttempts failed deliveries, by type");
        metrics.Meter.CreateObservableGauge("pasar.outbox.dead_letters", () => Interlocked.Read(ref _deadLetters),
            description: "Dead-lettered events kept in the outbox (all nodes), recounted every 30 s");
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var failures = 0;
        while (!stoppingToken.IsCancellationRequested)
        {
            int delivered;
            try
            {
                delivered = await DispatchBatchAsync(stoppingToken);
                await RecountDeadLettersAsync(stoppingToken);
                if (failures > 0)
                {
                    _logger.LogInformation("Outbox dispatch resumed after {Failures} failed rounds", failures);
                }

                failures = 0;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // Never let the loop die: wait (0.5 s doubling to 5 s) and try again.
                failures++;
                if (!StoreFaults.IsUnavailable(ex))
                {
                    _logger.LogError(ex, "Outbox dispatch failed; retrying");
                }
                else if (failures == 1 || failures % 20 == 0)
                {
                    _logger.LogWarning("Outbox dispatch waits for the database ({Error})", StoreFaults.Describe(ex));
                }

                try
                {
                    await Task.Delay(StoreResilience.LoopBackoff(failures), stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                continue;
            }

            if (delivered == 0)
            {
                try
                {
                    await _signal.WaitAsync(Poll, stoppingToken);
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
        catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException || StoreFaults.IsUnavailable(ex))
        {
        }
    }

    /// <summary>Claims and delivers one batch; returns how many events it completed.</summary>
    internal async Task<int> DispatchBatchAsync(CancellationToken ct)
    {
        var now = _time.GetUtcNow().ToUnixTimeMilliseconds();
        var claimed = await _database.InTransactionAsync(async (c, tx) =>
        {
            // The lease condition is repeated on the outer UPDATE so that, on PostgreSQL, a row another node
            // leased meanwhile is re-checked after its lock and skipped. Rows this node still holds are free to
            // take again: its batches run one at a time, so none of them is in flight (a batch cut short by an
            // outage leaves them leased to us).
            var rows = await c.QueryAsync<OutboxRow>(new CommandDefinition(
                """
                UPDATE outbox SET locked_by = @node, locked_until = @until
                WHERE id IN (
                    SELECT id FROM outbox
                    WHERE dispatched_at IS NULL AND dead_lettered_at IS NULL AND next_attempt_at <= @now
                      AND (locked_until IS NULL OR locked_until < @now OR locked_by = @node)
                    ORDER BY id LIMIT @batch)
                  AND dispatched_at IS NULL AND (locked_until IS NULL OR locked_until < @now OR locked_by = @node)
                RETURNING id AS Id, event_id AS EventId, type AS Type, payload AS Payload, created_at AS CreatedAt, attempts AS Attempts
                """,
                new { node = _node, until = now + (long)_options.Lease.TotalMilliseconds, now, batch = BatchSize }, tx, cancellationToken: ct));
            return rows.OrderBy(r => r.Id).ToList();
        }, ct);
        if (claimed.Count == 0)
        {
            return 0;
        }

        using var renewing = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var renewal = RenewLeaseAsync(renewing.Token);
        try
        {
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
        finally
        {
            await renewing.CancelAsync();
            await renewal;
        }
    }

    /// <summary>Every third of the lease, extends the lease of the rows this node still holds, until cancelled.</summary>
    private async Task RenewLeaseAsync(CancellationToken ct)
    {
        var every = _options.Lease / 3;
        try
        {
            while (true)
            {
                await Task.Delay(every, _time, ct);
                try
                {
                    var until = _time.GetUtcNow().Add(_options.Lease).ToUnixTimeMilliseconds();
                    await _database.InTransactionAsync(async (c, tx) => await c.ExecuteAsync(new CommandDefinition(
                        "UPDATE outbox SET locked_until = @until WHERE locked_by = @node AND dispatched_at IS NULL",
                        new { until, node = _node }, tx, cancellationToken: ct)), ct);
                }
                catch (Exception ex) when (ex is not OperationCanceledException && StoreFaults.IsUnavailable(ex))
                {
                    // The lease may lapse and another node take the rest over: deliveries are recorded per
                    // handler, so at worst an event is looked at twice, never applied twice.
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task<bool> DeliverAsync(OutboxRow row, CancellationToken ct)
    {
        try
        {
            foreach (var handler in _registry.HandlersFor(row.Type))
            {
                EventContext? delivered = null;
                await _database.InTransactionAsync(async (c, tx) =>
                {
                    delivered = null;
                    var first = await c.ExecuteAsync(new CommandDefinition(
                        "INSERT INTO outbox_deliveries (event_id, handler, delivered_at) VALUES (@eventId, @handler, @now) ON CONFLICT DO NOTHING",
                        new { eventId = row.EventId, handler = handler.Name, now = _time.GetUtcNow().ToUnixTimeMilliseconds() }, tx, cancellationToken: ct));
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
                        _logger.LogWarning("After-commit action of {Handler} for {EventId} failed: {Error}", handler.Name, row.EventId, StoreFaults.Describe(ex));
                    }
                }
            }

            await _database.InTransactionAsync(async (c, tx) =>
                await c.ExecuteAsync(new CommandDefinition(
                    "UPDATE outbox SET dispatched_at = @now, locked_by = NULL, locked_until = NULL WHERE id = @id",
                    new { now = _time.GetUtcNow().ToUnixTimeMilliseconds(), id = row.Id }, tx, cancellationToken: ct)), ct);
            _metrics.OutboxDelivered.Add(1, new KeyValuePair<string, object?>("type", row.Type));
            return true;
        }
        catch (Exception ex) when ((ex is not OperationCanceledException || !ct.IsCancellationRequested) && !StoreFaults.IsUnavailable(ex))
        {
            await RecordFailureAsync(row, ex);
            return false;
        }
    }

    /// <summary>Counts a failed attempt: retried later with a doubling backoff, or dead-lettered at the limit.</summary>
    private async Task RecordFailureAsync(OutboxRow row, Exception ex)
    {
        var attempts = row.Attempts + 1;
        var now = _time.GetUtcNow();
        _metrics.OutboxFailures.Add(1, new KeyValuePair<string, object?>("type", row.Type));
        if (attempts >= _options.MaxAttempts)
        {
            _logger.LogError("Event {EventId} ({Type}) failed {Attempts} times and is dead-lettered: {Error}", row.EventId, row.Type, attempts, StoreFaults.Describe(ex));
            await _database.InTransactionAsync(async (c, tx) =>
                await c.ExecuteAsync(new CommandDefinition(
                    "UPDATE outbox SET attempts = @attempts, dead_lettered_at = @now, locked_by = NULL, locked_until = NULL, last_error = @error WHERE id = @id",
                    new { attempts, now = now.ToUnixTimeMilliseconds(), error = ex.Message, id = row.Id }, tx, cancellationToken: CancellationToken.None)),
                CancellationToken.None);
            _deadLettered.Add(1, new KeyValuePair<string, object?>("type", row.Type));
            Interlocked.Increment(ref _deadLetters);
            return;
        }

        var backoff = TimeSpan.FromSeconds(Math.Min(_options.MaxBackoff.TotalSeconds, Math.Pow(2, Math.Min(attempts, 20))));
        _logger.LogWarning("Event {EventId} ({Type}) failed on attempt {Attempt}; next try in {Backoff}: {Error}", row.EventId, row.Type, attempts, backoff, StoreFaults.Describe(ex));
        await _database.InTransactionAsync(async (c, tx) =>
            await c.ExecuteAsync(new CommandDefinition(
                "UPDATE outbox SET attempts = @attempts, next_attempt_at = @next, locked_by = NULL, locked_until = NULL, last_error = @error WHERE id = @id",
                new { attempts, next = now.Add(backoff).ToUnixTimeMilliseconds(), error = ex.Message, id = row.Id }, tx, cancellationToken: CancellationToken.None)),
            CancellationToken.None);
    }

    /// <summary>Refreshes the dead-letter gauge from SQL (what every node dead-lettered) at most every 30 s.</summary>
    private async Task RecountDeadLettersAsync(CancellationToken ct)
    {
        var now = _time.GetTimestamp();
        if (_deadLettersCountedAt != long.MinValue && _time.GetElapsedTime(_deadLettersCountedAt, now) < DeadLetterRecount)
        {
            return;
        }

        _deadLettersCountedAt = now;
        await using var c = await _database.OpenAsync(ct);
        Interlocked.Exchange(ref _deadLetters, await c.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM outbox WHERE dead_lettered_at IS NOT NULL", cancellationToken: ct)));
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
internal sealed class EventHandlerRegistry(IServiceProvider services, IEnumerable<EventHandlerRegistration> registrations)
{
    private readonly ILookup<string, EventHandlerRegistration> _byType = registrations.ToLookup(r => r.EventType);

    internal IEnumerable<BoundHandler> HandlersFor(string eventType) =>
        _byType[eventType].Select(r => new BoundHandler(r.Name, (payload, context, ct) => r.Invoke(services, payload, context, ct)));

    internal sealed record BoundHandler(string Name, Func<string, EventContext, CancellationToken, Task> InvokeAsync);
}

/// <summary>One handler bound to one event type; made by <see cref="EventRegistrationExtensions.AddEventHandler{TEvent, THandler}"/>.</summary>
internal sealed record EventHandlerRegistration(
    string EventType,
    string Name,
    Func<IServiceProvider, string, EventContext, CancellationToken, Task> Invoke);

internal static class EventRegistrationExtensions
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
