using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Dapper;

namespace Pasar.Bench;

/// <summary>
/// The flash-sale burst: 100 units, limit 1, and a crowd of 3,000 buyers tapping Buy as fast as the server
/// answers. Every attempt is counted: the 100 that buy (ok), the refusals (SOLD_OUT / LIMIT_REACHED), and
/// anything else (failed). After the run the scenario checks that exactly 100 orders exist.
/// </summary>
public static class FlashScenario
{
    public static async Task<LoadResult> RunAsync(BenchTarget target, int concurrency, TimeSpan duration, int quantity = 100)
    {
        var minter = new JwtMinter(BenchTarget.SigningKey);
        using var http = DailyScenarios.Client(target, concurrency);
        var sellerToken = minter.Mint("flash-seller", "seller");

        async Task<JsonElement> PostAsync(string path, object body)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
            request.Headers.Authorization = new("Bearer", sellerToken);
            using var response = await http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            return response.IsSuccessStatusCode ? JsonDocument.Parse(text).RootElement.Clone() : throw new InvalidOperationException($"{path}: {text}");
        }

        var product = await PostAsync("/api/products", new { title = "Flash product", priceMinor = 10_000, currency = "SGD", stock = quantity + 1_000 });
        var session = await PostAsync("/api/live/sessions", new { title = "Flash bench" });
        var sessionId = session.GetProperty("id").GetString();
        await using (var c = await target.OpenDatabaseAsync())
        {
            // Stands in for the first RTMP media arriving: the session is on air.
            await c.ExecuteAsync("UPDATE live_sessions SET status = 'live', started_at = 0 WHERE id = @sessionId", new { sessionId });
        }

        var buyers = Enumerable.Range(0, 3000).Select(i => minter.Mint($"crowd-{i}", "buyer")).ToArray();
        var body = Encoding.UTF8.GetBytes("""{"quantity":1}""");
        string saleId = "";
        var reported = 0;

        async Task<LoadRunner.Outcome> Tap(int worker, long n)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/flash-sales/{saleId}/purchases") { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new("application/json");
            request.Headers.Authorization = new("Bearer", buyers[(int)((worker * 7919 + n) % buyers.Length)]);
            request.Headers.Add("Idempotency-Key", $"{saleId}-{worker}-{n}");
            using var response = await http.SendAsync(request);
            if (response.StatusCode is not (HttpStatusCode.Created or HttpStatusCode.Conflict) && Interlocked.Increment(ref reported) <= 3)
            {
                Console.Error.WriteLine($"unexpected {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            }

            return response.StatusCode switch
            {
                HttpStatusCode.Created => LoadRunner.Outcome.Ok,
                HttpStatusCode.Conflict => LoadRunner.Outcome.Refused,
                _ => LoadRunner.Outcome.Failed,
            };
        }

        // Warm up on a first sale, then measure on a fresh one.
        var warm = await PostAsync($"/api/live/sessions/{sessionId}/flash-sales", new { productId = product.GetProperty("id").GetString(), salePriceMinor = 5_000, quantity = 100, durationSeconds = 10, perUserLimit = 1 });
        saleId = warm.GetProperty("id").GetString()!;
        await LoadRunner.RunAsync(concurrency, TimeSpan.FromSeconds(2), Tap);
        await using (var c = await target.OpenDatabaseAsync())
        {
            await c.ExecuteAsync("UPDATE flash_sales SET ends_at = 0 WHERE id = @saleId", new { saleId });
        }

        await Task.Delay(1500); // the ticker closes the warm-up sale
        var sale = await PostAsync($"/api/live/sessions/{sessionId}/flash-sales", new { productId = product.GetProperty("id").GetString(), salePriceMinor = 5_000, quantity, durationSeconds = 3600, perUserLimit = 1 });
        saleId = sale.GetProperty("id").GetString()!;
        var result = await DailyScenarios.MeasureAsync($"flash-sale burst, {quantity} units", target, concurrency, duration, Tap, warmUp: false);

        await using (var c = await target.OpenDatabaseAsync())
        {
            var orders = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM orders WHERE flash_sale_id = @saleId", new { saleId });
            var distinct = await c.ExecuteScalarAsync<long>("SELECT COUNT(DISTINCT buyer_id) FROM orders WHERE flash_sale_id = @saleId", new { saleId });
            Console.WriteLine($"check on {target.Name}: {orders} orders from {distinct} buyers for {quantity} units (ok in the table: {result.Ok})");
            if (orders > quantity || distinct != orders || orders != result.Ok)
            {
                throw new InvalidOperationException($"Oversold or undersold: {orders} orders, {distinct} buyers.");
            }
        }

        return result;
    }
}
