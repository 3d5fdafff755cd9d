using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Pasar.Server.Orders;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Events;
using Pasar.Server.Platform.Storage;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.Faults;

public sealed class RetentionAndDeadLetterTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Retention_prunes_old_rows_and_keeps_what_is_still_needed(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend, s =>
        {
            s["Pasar:Retention:OutboxDays"] = "7";
            s["Pasar:Retention:IdempotencyKeyDays"] = "7";
            s["Pasar:Retention:ShareClickDays"] = "2";
        });
        var now = DateTimeOffset.UtcNow;
        var old = now.AddDays(-8).ToUnixTimeMilliseconds();
        var oldClick = now.AddDays(-3).ToUnixTimeMilliseconds();
        var recent = now.AddHours(-1).ToUnixTimeMilliseconds();
        var db = app.Services.GetRequiredService<Database>();
        await db.InTransactionAsync(async (c, tx) =>
        {
            async Task Sql(string sql, object args) => await Dapper.SqlMapper.ExecuteAsync(c, sql, args, tx);
            const string outbox = "INSERT INTO outbox (event_id, type, payload, created_at, next_attempt_at, dispatched_at, dead_lettered_at) VALUES (@id, 'Old', '{}', @created, @created, @dispatched, @dead)";
            await Sql(outbox, new { id = "old-done", created = old, dispatched = (long?)old, dead = (long?)null });
            await Sql(outbox, new { id = "old-dead", created = old, dispatched = (long?)null, dead = (long?)old });
            await Sql(outbox, new { id = "recent-done", created = recent, dispatched = (long?)recent, dead = (long?)null });
            // Still pending after a week (a handler kept failing): kept, and so are its delivery records.
            await Sql(outbox, new { id = "old-pending", created = old, dispatched = (long?)null, dead = (long?)null });
            const string delivery = "INSERT INTO outbox_deliveries (event_id, handler, delivered_at) VALUES (@id, 'H', @at)";
            await Sql(delivery, new { id = "old-done", at = old });
            await Sql(delivery, new { id = "old-pending", at = old });
            await Sql(delivery, new { id = "recent-done", at = recent });
            const string key = "INSERT INTO idempotency_keys (user_id, idem_key, scope, request_hash, status_code, response_body, created_at) VALUES ('u', @key, 's', 'h', 201, '{}', @at)";
            await Sql(key, new { key = "old-key", at = old });
            await Sql(key, new { key = "recent-key", at = recent });
            const string click = "INSERT INTO share_clicks (tracking_code, visitor_id, counted_at) VALUES ('code', @visitor, @at)";
            await Sql(click, new { visitor = "old-visitor", at = oldClick });
            await Sql(click, new { visitor = "recent-visitor", at = recent });
        }, Ct);

        var pruned = await app.Services.GetRequiredService<RetentionJob>().RunOnceAsync(Ct);

        Assert.Equal(5, pruned);
        Assert.Equal(["old-pending", "recent-done"], (await app.QueryAsync<string>("SELECT event_id FROM outbox WHERE type = 'Old' ORDER BY event_id")).ToArray());
        Assert.Equal(["old-pending", "recent-done"], (await app.QueryAsync<string>("SELECT event_id FROM outbox_deliveries WHERE handler = 'H' ORDER BY event_id")).ToArray());
        Assert.Equal(["recent-key"], (await app.QueryAsync<string>("SELECT idem_key FROM idempotency_keys WHERE user_id = 'u'")).ToArray());
        Assert.Equal(["recent-visitor"], (await app.QueryAsync<string>("SELECT visitor_id FROM share_clicks WHERE tracking_code = 'code'")).ToArray());
        Assert.Equal(0, await app.Services.GetRequiredService<RetentionJob>().RunOnceAsync(Ct));
    }

    /// <summary>Fails every delivery of a purchase of the products it is told to poison.</summary>
    public sealed class PoisonLog
    {
        public ConcurrentDictionary<string, int> Calls { get; } = new();
        public ConcurrentDictionary<string, byte> Poisoned { get; } = new();
    }

    internal sealed class PoisonedHandler(PoisonLog log) : IEventHandler<PurchaseCompleted>
    {
        public Task HandleAsync(PurchaseCompleted e, EventContext context, CancellationToken ct)
        {
            log.Calls.AddOrUpdate(e.OrderId, 1, (_, n) => n + 1);
            return log.Poisoned.ContainsKey(e.ProductId) ? throw new InvalidOperationException("poison event") : Task.CompletedTask;
        }
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task An_event_that_fails_max_attempts_times_is_dead_lettered_counted_in_metrics_and_not_retried(Backend backend)
    {
        var log = new PoisonLog();
        await using var app = await PasarApp.StartAsync(backend, s =>
        {
            s["Pasar:Outbox:MaxAttempts"] = "3";
            s["Pasar:Outbox:MaxBackoff"] = "00:00:01";
        }, services: s =>
        {
            s.AddSingleton(log);
            s.AddEventHandler<PurchaseCompleted, PoisonedHandler>();
        });
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        using var buyer = await app.ClientAsAsync("buyer-1", "buyer");
        var poisonedProduct = (await seller.CreateProductAsync(stock: 10)).GetProperty("id").GetString()!;
        var productId = (await seller.CreateProductAsync(stock: 10)).GetProperty("id").GetString()!;
        log.Poisoned[poisonedProduct] = 0;
        using var deadLetters = new DeadLetterInstruments(app.Services.GetRequiredService<PasarMetrics>().Meter);
        var poison = (await (await buyer.PlaceOrderAsync(poisonedProduct, 1)).JsonAsync()).GetProperty("id").GetString()!;

        await PasarApp.EventuallyAsync(async () => await app.ScalarAsync<long>("SELECT COUNT(*) FROM outbox WHERE dead_lettered_at IS NOT NULL") == 1,
            TimeSpan.FromSeconds(60), "the poison event to be dead-lettered");
        Assert.Equal(3L, await app.ScalarAsync<long>("SELECT attempts FROM outbox WHERE dead_lettered_at IS NOT NULL"));

        // Every test app in this process has a "Pasar" meter, and /metrics (one OpenTelemetry provider per app)
        // sees all of them: a gauge of the same name from another app can win there. So this app's own instruments
        // are read through a listener bound to its meter, and /metrics is checked for the exported names.
        await PasarApp.EventuallyAsync(() => Task.FromResult(deadLetters.Gauge() == 1 && deadLetters.Counted == 1),
            TimeSpan.FromSeconds(15), "the dead-letter gauge and counter of this app at 1");
        var metrics = await app.Client.GetStringAsync("/metrics", Ct);
        Assert.Contains(metrics.Split('\n'), l => l.StartsWith("pasar_outbox_dead_lettered_total", StringComparison.Ordinal) && !l.EndsWith(" 0", StringComparison.Ordinal));
        Assert.Contains(metrics.Split('\n'), l => l.StartsWith("pasar_outbox_dead_letters", StringComparison.Ordinal) && !l.StartsWith("pasar_outbox_dead_lettered", StringComparison.Ordinal));

        // Later events still flow, and the dead one is not tried again (its backoff of 1 s passes several times).
        var healthy = (await (await buyer.PlaceOrderAsync(productId, 1)).JsonAsync()).GetProperty("id").GetString()!;
        await PasarApp.EventuallyAsync(() => Task.FromResult(log.Calls.ContainsKey(healthy)), TimeSpan.FromSeconds(30), "a later event to be delivered");
        await Task.Delay(TimeSpan.FromSeconds(3), Ct);
        Assert.Equal(3, log.Calls[poison]);
        Assert.Equal(3L, await app.ScalarAsync<long>("SELECT attempts FROM outbox WHERE dead_lettered_at IS NOT NULL"));
    }

    /// <summary>This app's dead-letter counter and gauge, read from its own meter only.</summary>
    private sealed class DeadLetterInstruments : IDisposable
    {
        private readonly MeterListener _listener = new();
        private long _counted;
        private long _gauge = -1;

        public DeadLetterInstruments(Meter meter)
        {
            _listener.InstrumentPublished = (instrument, l) =>
            {
                if (ReferenceEquals(instrument.Meter, meter) && instrument.Name is "pasar.outbox.dead_lettered" or "pasar.outbox.dead_letters")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((instrument, value, _, _) =>
            {
                if (instrument.Name == "pasar.outbox.dead_lettered")
                {
                    Interlocked.Add(ref _counted, value);
                }
                else
                {
                    Interlocked.Exchange(ref _gauge, value);
                }
            });
            _listener.Start();
        }

        public long Counted => Interlocked.Read(ref _counted);

        public long Gauge()
        {
            _listener.RecordObservableInstruments();
            return Interlocked.Read(ref _gauge);
        }

        public void Dispose() => _listener.Dispose();
    }
}
