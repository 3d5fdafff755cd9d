using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using Dapper;
using Pasar.Server.Platform.Storage;
using Pasar.Server.Tests.Infrastructure;
using Pasar.Testing;

namespace Pasar.Server.Tests.Coins;

public sealed class WalletTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    internal static Task<HttpResponseMessage> AdjustAsync(HttpClient admin, string userId, long amount, string key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/admin/coins/adjustments")
        {
            Content = JsonContent.Create(new { userId, amount, reason = "support goodwill" }),
        };
        request.Headers.Add("Idempotency-Key", key);
        return admin.SendAsync(request);
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Coins_pay_part_of_an_order_in_the_same_commit(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        using var admin = await app.ClientAsAsync("admin-1", "admin");
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        using var buyer = await app.ClientAsAsync("buyer-1", "buyer");
        var productId = (await seller.CreateProductAsync(stock: 5, priceMinor: 1000)).GetProperty("id").GetString()!;
        await buyer.GetAsync("/api/me/coins", Ct); // signed in once, so Pasar knows the buyer
        Assert.Equal(HttpStatusCode.Created, (await AdjustAsync(admin, "buyer-1", 300, "welcome-1")).StatusCode);

        var response = await buyer.PlaceOrderAsync(productId, extra: new { productId, quantity = 1, coinsToRedeem = 250 });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var order = await response.JsonAsync();
        Assert.Equal(250, order.GetProperty("coinsRedeemed").GetInt64());
        Assert.Equal(750, order.GetProperty("totalMinor").GetInt64());
        Assert.Equal(50, (await (await buyer.GetAsync("/api/me/coins", Ct)).JsonAsync()).GetProperty("balance").GetInt64());

        var history = (await (await buyer.GetAsync("/api/me/coins/transactions", Ct)).JsonAsync()).GetProperty("items");
        Assert.Equal(2, history.GetArrayLength());
        Assert.Equal("ORDER_REDEEM", history[0].GetProperty("source").GetString());
        Assert.Equal(-250, history[0].GetProperty("amount").GetInt64());
        Assert.Equal(order.GetProperty("id").GetString(), history[0].GetProperty("reference").GetString());
        Assert.Equal(50, history[0].GetProperty("balanceAfter").GetInt64());
        Assert.Equal("ADJUSTMENT", history[1].GetProperty("source").GetString());
        Assert.Equal(300, history[1].GetProperty("balanceAfter").GetInt64());

        // More than the balance (but under the cap) changes nothing: no stock taken, no order, no ledger row.
        await (await buyer.PlaceOrderAsync(productId, extra: new { productId, quantity = 1, coinsToRedeem = 60 }))
            .AssertProblemAsync(HttpStatusCode.UnprocessableEntity, "INSUFFICIENT_COINS");
        Assert.Equal(4L, await app.ScalarAsync<long>("SELECT stock FROM products WHERE id = @productId", new { productId }));
        Assert.Equal(2L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM coin_ledger WHERE user_id = 'buyer-1'"));
    }

    [Fact]
    public async Task Adjustments_need_a_key_replay_once_and_never_overdraw()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        using var admin = await app.ClientAsAsync("admin-1", "admin");
        using var buyer = await app.ClientAsAsync("buyer-1", "buyer");
        await buyer.GetAsync("/api/me/coins", Ct); // the buyer signs in once, so Pasar knows them

        var first = await (await AdjustAsync(admin, "buyer-1", 100, "ticket-42")).JsonAsync();
        var again = await (await AdjustAsync(admin, "buyer-1", 100, "ticket-42")).JsonAsync();
        Assert.Equal(first.GetProperty("id").GetString(), again.GetProperty("id").GetString());
        await (await AdjustAsync(admin, "buyer-1", 999, "ticket-42")).AssertProblemAsync(HttpStatusCode.UnprocessableEntity, "IDEMPOTENCY_MISMATCH");
        await (await AdjustAsync(admin, "buyer-1", -101, "ticket-43")).AssertProblemAsync(HttpStatusCode.UnprocessableEntity, "INSUFFICIENT_COINS");
        await (await AdjustAsync(admin, "nobody", 5, "ticket-44")).AssertProblemAsync(HttpStatusCode.NotFound, "USER_NOT_FOUND");
        await (await admin.PostAsJsonAsync("/api/admin/coins/adjustments", new { userId = "buyer-1", amount = 5, reason = "x" }, Ct))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "VALIDATION_FAILED");
        Assert.Equal(100, (await (await buyer.GetAsync("/api/me/coins", Ct)).JsonAsync()).GetProperty("balance").GetInt64());
        Assert.Equal(1L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM coin_ledger"));
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_storm_of_earning_and_spending_keeps_every_balance_equal_to_its_ledger(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        using var admin = await app.ClientAsAsync("admin-1", "admin");
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        var productId = (await seller.CreateProductAsync(stock: 100_000, priceMinor: 4000)).GetProperty("id").GetString()!;
        var buyers = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => app.ClientAsAsync($"buyer-{i}", "buyer")));
        foreach (var (b, i) in buyers.Select((b, i) => (b, i)))
        {
            await b.GetAsync("/api/me/coins", Ct);
            await AdjustAsync(admin, $"buyer-{i}", 500, $"seed-{i}");
        }

        var results = await Storm.RunAsync(buyers, admin, productId, operationsPerBuyer: 24, Ct);
        Assert.True(results.Spends > 0 && results.Overdrawn > 0 && results.Earns > 0, $"the storm should spend, overdraw and earn: {results}");
        await Storm.AssertLedgerInvariantsAsync(app.Services.GetService(typeof(Database)) as Database ?? throw new InvalidOperationException());
        foreach (var b in buyers)
        {
            b.Dispose();
        }
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_kill_in_the_middle_of_the_storm_leaves_every_ledger_consistent(Backend backend)
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "pasar-storm-" + Guid.NewGuid().ToString("N")[..8]);
        var settings = await PasarApp.SettingsForAsync(backend, dataDir);
        var port = LocalServers.FreePort();
        await using (var server = await ServerProcess.StartAsync(settings, port))
        {
            using var admin = server.NewClient(await server.TokenAsync("admin-1", "admin"));
            using var seller = server.NewClient(await server.TokenAsync("seller-1", "seller"));
            var productId = (await seller.CreateProductAsync(stock: 100_000, priceMinor: 4000)).GetProperty("id").GetString()!;
            var buyers = new List<HttpClient>();
            for (var i = 0; i < 12; i++)
            {
                var b = server.NewClient(await server.TokenAsync($"buyer-{i}", "buyer"));
                await b.GetAsync("/api/me/coins", Ct);
                await AdjustAsync(admin, $"buyer-{i}", 500, $"seed-{i}");
                buyers.Add(b);
            }

            var storm = Storm.RunAsync(buyers.ToArray(), admin, productId, operationsPerBuyer: 400, Ct);
            await Task.Delay(1500, Ct);
            server.Kill();
            var results = await storm;
            Assert.True(results.Spends + results.Earns > 0, "the kill should land in the middle of the storm");
            foreach (var b in buyers)
            {
                b.Dispose();
            }
        }

        await using var restarted = await ServerProcess.StartAsync(settings, port);
        await using var db = PasarApp.DatabaseFor(settings);
        await Storm.AssertLedgerInvariantsAsync(db);
    }
}

/// <summary>Many buyers earning (admin credits) and spending (orders with coins, some over the balance) at once.</summary>
internal static class Storm
{
    public sealed record Results(int Earns, int Spends, int Overdrawn, int Lost);

    public static async Task<Results> RunAsync(HttpClient[] buyers, HttpClient admin, string productId, int operationsPerBuyer, CancellationToken ct)
    {
        int earns = 0, spends = 0, overdrawn = 0, lost = 0;
        await Task.WhenAll(buyers.Select((buyer, i) => Task.Run(async () =>
        {
            var random = new Random(i);
            for (var n = 0; n < operationsPerBuyer; n++)
            {
                try
                {
                    if (random.Next(3) == 0)
                    {
                        var r = await WalletTests.AdjustAsync(admin, $"buyer-{i}", random.Next(1, 300), $"credit-{i}-{n}");
                        if (r.StatusCode == HttpStatusCode.Created)
                        {
                            Interlocked.Increment(ref earns);
                        }
                    }
                    else
                    {
                        // Up to the 25 % cap of 4000; often more than the balance.
                        var r = await buyer.PlaceOrderAsync(productId, extra: new { productId, quantity = 1, coinsToRedeem = random.Next(1, 1001) });
                        if (r.StatusCode == HttpStatusCode.Created)
                        {
                            Interlocked.Increment(ref spends);
                        }
                        else if (r.StatusCode == HttpStatusCode.UnprocessableEntity)
                        {
                            Interlocked.Increment(ref overdrawn);
                        }
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
                {
                    Interlocked.Increment(ref lost);
                    return; // the server was killed
                }
            }
        }, ct)));
        return new Results(earns, spends, overdrawn, lost);
    }

    public static async Task AssertLedgerInvariantsAsync(Database db)
    {
        await using var c = await db.OpenAsync(CancellationToken.None);
        var mismatched = (await c.QueryAsync<(string UserId, long Balance, long LedgerSum)>(
            """
            SELECT b.user_id, b.balance, COALESCE((SELECT SUM(amount) FROM coin_ledger l WHERE l.user_id = b.user_id), 0)
            FROM coin_balances b
            """)).Where(r => r.Balance != r.LedgerSum || r.Balance < 0).ToList();
        Assert.True(mismatched.Count == 0, "balances that differ from their ledger: " + string.Join(", ", mismatched));
        Assert.Equal(0L, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM coin_ledger WHERE user_id NOT IN (SELECT user_id FROM coin_balances)"));

        // Every coin spend belongs to exactly one order with the same amount, and every order's coins were spent.
        Assert.Equal(0L, await c.ExecuteScalarAsync<long>(
            """
            SELECT COUNT(*) FROM coin_ledger l LEFT JOIN orders o ON o.id = l.reference
            WHERE l.source = 'ORDER_REDEEM' AND (o.id IS NULL OR o.coins_redeemed <> -l.amount)
            """));
        Assert.Equal(0L, await c.ExecuteScalarAsync<long>(
            """
            SELECT COUNT(*) FROM orders o LEFT JOIN coin_ledger l ON l.reference = o.id AND l.source = 'ORDER_REDEEM'
            WHERE o.coins_redeemed > 0 AND l.id IS NULL
            """));
    }
}
