using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.Catalog;

/// <summary>
/// A seller edits a product while buyers order it. PATCH used to read the row and write every column back, so on
/// PostgreSQL the stock of orders committed in between came back: an oversell.
/// </summary>
public sealed class ProductPatchRaceTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Edits_during_a_burst_of_orders_never_undo_a_purchase(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        var productId = (await seller.CreateProductAsync(stock: 1_000, priceMinor: 10_000)).GetProperty("id").GetString()!;
        var buyers = await Task.WhenAll(Enumerable.Range(0, 8).Select(i => app.ClientAsAsync($"buyer-{i}", "buyer")));

        // Title, description and price edits (never stock) beside 300 orders.
        var orders = OrdersAsync(buyers, productId, "a", 300, new SequenceClock());
        var edits = Enumerable.Range(0, 4).Select(p => Task.Run(async () =>
        {
            for (var i = 0; i < 25; i++)
            {
                object body = (i % 3) switch
                {
                    0 => new { title = $"Batik scarf {p}-{i}" },
                    1 => new { description = $"Edit {p}-{i}" },
                    _ => new { priceMinor = 9_000 + (p * 100) + i },
                };
                using var response = await seller.PatchAsJsonAsync($"/api/products/{productId}", body, Ct);
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            }
        }, Ct)).ToList();
        var placed = await orders;
        await Task.WhenAll(edits);

        Assert.Equal(300, placed.Count);
        Assert.Equal(300L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM orders WHERE product_id = @productId", new { productId }));
        Assert.Equal(700L, await app.ScalarAsync<long>("SELECT stock FROM products WHERE id = @productId", new { productId }));
        await PasarApp.EventuallyAsync(async () => await app.ScalarAsync<long>("SELECT sold FROM products WHERE id = @productId", new { productId }) == 300,
            TimeSpan.FromSeconds(30), "sold to reach 300 through the outbox");

        // Now the seller also sets the stock (an absolute count: their intent) while orders go on. The sets are
        // ordered with the orders by the row lock, so after the last set exactly the orders committed after it have
        // been taken from it. Causality bounds which those are: an order sent after the set's answer came back
        // committed after it; one whose answer came back before the set was sent committed before it.
        var clock = new SequenceClock();
        var moreOrders = OrdersAsync(buyers, productId, "b", 300, clock);
        var lastSet = (Value: 0, Sent: 0L, Answered: 0L);
        var setter = Task.Run(async () =>
        {
            for (var i = 0; i < 10; i++)
            {
                var value = 2_000 + (i * 37);
                var sent = clock.Next();
                using var response = await seller.PatchAsJsonAsync($"/api/products/{productId}", new { stock = value, title = $"Restocked {i}" }, Ct);
                var answered = clock.Next();
                Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                Assert.Equal(value, (await response.JsonAsync()).GetProperty("stock").GetInt32());
                lastSet = (value, sent, answered);
            }
        }, Ct);
        var placedAfter = await moreOrders;
        await setter;

        var stock = await app.ScalarAsync<long>("SELECT stock FROM products WHERE id = @productId", new { productId });
        var takenSinceLastSet = lastSet.Value - stock;
        var surelyAfter = placedAfter.Count(o => o.Sent > lastSet.Answered);
        var possiblyAfter = placedAfter.Count(o => o.Answered > lastSet.Sent);
        Assert.InRange(takenSinceLastSet, surelyAfter, possiblyAfter);
        Assert.Equal(600L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM orders WHERE product_id = @productId", new { productId }));
        await PasarApp.EventuallyAsync(async () => await app.ScalarAsync<long>("SELECT sold FROM products WHERE id = @productId", new { productId }) == 600,
            TimeSpan.FromSeconds(30), "sold to reach 600 through the outbox");

        foreach (var b in buyers)
        {
            b.Dispose();
        }
    }

    /// <summary><paramref name="count"/> orders of one unit, 16 at a time; each with when it was sent and answered.</summary>
    private static async Task<List<(long Sent, long Answered)>> OrdersAsync(HttpClient[] buyers, string productId, string batch, int count, SequenceClock clock)
    {
        var placed = new ConcurrentBag<(long Sent, long Answered)>();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = 16, CancellationToken = Ct }, async (i, _) =>
        {
            var sent = clock.Next();
            using var response = await buyers[i % buyers.Length].PlaceOrderAsync(productId, 1, idempotencyKey: $"{batch}-{i}");
            var answered = clock.Next();
            Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync(Ct));
            placed.Add((sent, answered));
        });
        return [.. placed];
    }

    /// <summary>A counter that orders events by causality (happened before), not by a clock's resolution.</summary>
    private sealed class SequenceClock
    {
        private long _value;

        public long Next() => Interlocked.Increment(ref _value);
    }
}
