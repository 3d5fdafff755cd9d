using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Pasar.Server.Orders;
using Pasar.Server.Platform.Events;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.Platform;

public sealed class OutboxTests
{
    /// <summary>Counts what a handler saw, shared by every node of a test.</summary>
    public sealed class DeliveryLog
    {
        public ConcurrentDictionary<string, int> ByOrder { get; } = new();
        public int FailuresLeft;
    }

    internal sealed class RecordingHandler(DeliveryLog log) : IEventHandler<PurchaseCompleted>
    {
        public Task HandleAsync(PurchaseCompleted e, EventContext context, CancellationToken ct)
        {
            if (Interlocked.Decrement(ref log.FailuresLeft) >= 0)
            {
                throw new InvalidOperationException("downstream unavailable");
            }

            log.ByOrder.AddOrUpdate(e.OrderId, 1, (_, n) => n + 1);
            return Task.CompletedTask;
        }
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_failing_handler_is_retried_and_no_handler_runs_twice(Backend backend)
    {
        var log = new DeliveryLog { FailuresLeft = 2 };
        await using var app = await PasarApp.StartAsync(backend, services: s =>
        {
            s.AddSingleton(log);
            s.AddEventHandler<PurchaseCompleted, RecordingHandler>();
        });
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        using var buyer = await app.ClientAsAsync("buyer-1", "buyer");
        var productId = (await seller.CreateProductAsync(stock: 10)).GetProperty("id").GetString()!;
        var order = await (await buyer.PlaceOrderAsync(productId, 3)).JsonAsync();
        var orderId = order.GetProperty("id").GetString()!;

        await PasarApp.EventuallyAsync(() => Task.FromResult(log.ByOrder.ContainsKey(orderId)), TimeSpan.FromSeconds(30), "the handler to succeed after two failures");
        await PasarApp.EventuallyAsync(async () => await app.ScalarAsync<long>("SELECT COUNT(*) FROM outbox WHERE dispatched_at IS NULL") == 0,
            TimeSpan.FromSeconds(10), "the event to be marked dispatched");

        Assert.Equal(1, log.ByOrder[orderId]);
        Assert.True(await app.ScalarAsync<long>("SELECT attempts FROM outbox WHERE type = 'PurchaseCompleted'") >= 2);
        // The sold counter ran on the first attempt; the two redeliveries skipped it.
        Assert.Equal(3L, await app.ScalarAsync<long>("SELECT sold FROM products WHERE id = @productId", new { productId }));
    }

    [Fact]
    public async Task Two_nodes_on_one_database_deliver_each_event_once()
    {
        var log = new DeliveryLog();
        void Register(IServiceCollection s)
        {
            s.AddSingleton(log);
            s.AddEventHandler<PurchaseCompleted, RecordingHandler>();
        }

        await using var nodeA = await PasarApp.StartAsync(Backend.Scaled, services: Register);
        await using var nodeB = await PasarApp.StartAsync(Backend.Scaled, services: Register, shareSettings: new(nodeA.Settings));
        using var seller = await nodeA.ClientAsAsync("seller-1", "seller");
        var productId = (await seller.CreateProductAsync(stock: 1000)).GetProperty("id").GetString()!;
        using var buyerA = await nodeA.ClientAsAsync("buyer-a", "buyer");
        using var buyerB = await nodeB.ClientAsAsync("buyer-b", "buyer");

        var responses = await Task.WhenAll(Enumerable.Range(0, 120).Select(i => (i % 2 == 0 ? buyerA : buyerB).PlaceOrderAsync(productId)));
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.Created, r.StatusCode));

        await PasarApp.EventuallyAsync(async () => await nodeA.ScalarAsync<long>("SELECT COUNT(*) FROM outbox WHERE dispatched_at IS NULL") == 0,
            TimeSpan.FromSeconds(30), "both dispatchers to drain the outbox");
        Assert.Equal(120, log.ByOrder.Count);
        Assert.All(log.ByOrder.Values, n => Assert.Equal(1, n));
        Assert.Equal(120L, await nodeA.ScalarAsync<long>("SELECT sold FROM products WHERE id = @productId", new { productId }));
        Assert.Equal(0L, await nodeA.ScalarAsync<long>(
            "SELECT COUNT(*) FROM (SELECT event_id, handler FROM outbox_deliveries GROUP BY event_id, handler HAVING COUNT(*) > 1) d"));
    }
}
