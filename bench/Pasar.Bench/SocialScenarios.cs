using System.Diagnostics;
using System.Net;
using Dapper;

namespace Pasar.Bench;

/// <summary>
/// feed: a reader who follows 500 of 1,000 sellers, 100,000 activities in all; the reader's first feed page.
/// fanout: a seller with 100,000 followers goes live; other users' API latency while the notifications are
/// written in the background, against the same calls when idle.
/// </summary>
public static class SocialScenarios
{
    public static async Task<LoadResult> FeedAsync(BenchTarget target, int concurrency, TimeSpan duration)
    {
        await using (var c = await target.OpenDatabaseAsync())
        {
            await c.ExecuteAsync(
                """
                WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999)
                INSERT INTO users (id, name, role, created_at) SELECT 'feed-seller-' || i, 'Seller ' || i, 'seller', 0 FROM n
                """);
            await c.ExecuteAsync(
                """
                WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 999)
                INSERT INTO follows (follower_id, seller_id, created_at) SELECT 'feed-reader', 'feed-seller-' || i, 0 FROM n WHERE i % 2 = 0
                """);
            await c.ExecuteAsync(
                """
                WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < 99999)
                INSERT INTO seller_activities (id, seller_id, type, product_id, session_id, flash_sale_id, created_at)
                SELECT 'act-' || i, 'feed-seller-' || ((i * 7919) % 1000), 'NEW_PRODUCT', 'p-' || i, NULL, NULL, 1700000000000 + i * 1000 FROM n
                """, commandTimeout: 600);
        }

        var minter = new JwtMinter(BenchTarget.SigningKey);
        var token = minter.Mint("feed-reader", "buyer");
        using var http = DailyScenarios.Client(target, concurrency);

        async Task<LoadRunner.Outcome> Read(int worker, long n)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/me/feed?limit=20");
            request.Headers.Authorization = new("Bearer", token);
            using var response = await http.SendAsync(request);
            var body = await response.Content.ReadAsStringAsync();
            return response.StatusCode == HttpStatusCode.OK && body.Contains("\"nextCursor\":\"", StringComparison.Ordinal) ? LoadRunner.Outcome.Ok : LoadRunner.Outcome.Failed;
        }

        return await DailyScenarios.MeasureAsync("feed first page", target, concurrency, duration, Read);
    }

    public static async Task<IReadOnlyList<LoadResult>> FanoutAsync(BenchTarget target, int concurrency, TimeSpan duration)
    {
        await using var c = await target.OpenDatabaseAsync();
        await c.ExecuteAsync("INSERT INTO users (id, name, role, created_at) VALUES ('star-seller', 'Star Seller', 'seller', 0)");
        await c.ExecuteAsync(
            """
            WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000)
            INSERT INTO follows (follower_id, seller_id, created_at) SELECT 'fan-' || i, 'star-seller', 0 FROM n
            """, commandTimeout: 600);

        var minter = new JwtMinter(BenchTarget.SigningKey);
        using var http = DailyScenarios.Client(target, concurrency);
        var seller = minter.Mint("bench-seller", "seller");
        using var create = new HttpRequestMessage(HttpMethod.Post, "/api/products")
        {
            Content = new StringContent("""{"title":"Browse me","priceMinor":990,"currency":"SGD","stock":5}""", System.Text.Encoding.UTF8, "application/json"),
        };
        create.Headers.Authorization = new("Bearer", seller);
        var product = System.Text.Json.JsonDocument.Parse(await (await http.SendAsync(create)).Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString();
        var buyers = Enumerable.Range(0, concurrency).Select(i => minter.Mint($"browser-{i}", "buyer")).ToArray();

        // What other users do meanwhile: read a product, read their notifications.
        async Task<LoadRunner.Outcome> Browse(int worker, long n)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, n % 2 == 0 ? $"/api/products/{product}" : "/api/me/notifications?limit=20");
            request.Headers.Authorization = new("Bearer", buyers[worker]);
            using var response = await http.SendAsync(request);
            return response.StatusCode == HttpStatusCode.OK ? LoadRunner.Outcome.Ok : LoadRunner.Outcome.Failed;
        }

        await DailyScenarios.MeasureAsync("warm-up", target, concurrency, duration, Browse);
        var idle = await DailyScenarios.MeasureAsync("API while idle", target, concurrency, duration, Browse);

        // The job the going-live handler queues; the server's fan-out worker picks it up within a second.
        // The load runs exactly while the fan-out does.
        var started = Stopwatch.StartNew();
        await c.ExecuteAsync(
            """
            INSERT INTO follower_fanouts (id, seller_id, type, title, body, data, created_at)
            VALUES ('bench-live', 'star-seller', 'SELLER_LIVE', 'Star Seller is live', 'Tap to watch', '{}', 0)
            """);
        var done = false;
        var watcher = Task.Run(async () =>
        {
            await using var w = await target.OpenDatabaseAsync();
            while (await w.ExecuteScalarAsync<long?>("SELECT done_at FROM follower_fanouts WHERE id = 'bench-live'") is null)
            {
                await Task.Delay(50);
            }

            Volatile.Write(ref done, true);
        });
        var during = await DailyScenarios.MeasureAsync("API during 100k fan-out", target, concurrency, TimeSpan.FromMinutes(5), Browse,
            stop: () => Volatile.Read(ref done), warmUp: false);
        await watcher;
        var elapsed = started.Elapsed;
        var notified = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM notifications WHERE type = 'SELLER_LIVE'");
        Console.WriteLine($"fan-out on {target.Name}: {notified} followers notified in {elapsed.TotalSeconds:F1} s while the API was under load");
        return [idle, during];
    }
}
