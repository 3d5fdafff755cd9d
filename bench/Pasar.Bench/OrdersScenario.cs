using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Pasar.Bench;

/// <summary>
/// Orders per second: buyers place single-unit orders (each with its own Idempotency-Key) on one product
/// with ample stock: the whole write path (auth, idempotency row, stock update, order, outbox event) per request.
/// </summary>
public static class OrdersScenario
{
    public static async Task<LoadResult> RunAsync(BenchTarget target, int concurrency, TimeSpan duration)
    {
        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = concurrency, PooledConnectionLifetime = TimeSpan.FromMinutes(10) };
        using var http = new HttpClient(handler) { BaseAddress = target.Server.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };
        var seller = await TokenAsync(http, "bench-seller", "seller");
        using var create = new HttpRequestMessage(HttpMethod.Post, "/api/products")
        {
            Content = JsonContent.Create(new { title = "Bench product", priceMinor = 1000, currency = "SGD", stock = 10_000_000 }),
        };
        create.Headers.Authorization = new("Bearer", seller);
        var product = await (await http.SendAsync(create)).Content.ReadFromJsonAsync<JsonElement>();
        var productId = product.GetProperty("id").GetString()!;
        var buyers = await Task.WhenAll(Enumerable.Range(0, concurrency).Select(i => TokenAsync(http, $"bench-buyer-{i}", "buyer")));
        var body = JsonSerializer.SerializeToUtf8Bytes(new { productId, quantity = 1 });

        async Task<LoadRunner.Outcome> PlaceAsync(int worker, long n)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/orders") { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new("application/json");
            request.Headers.Authorization = new("Bearer", buyers[worker]);
            request.Headers.Add("Idempotency-Key", $"{worker}-{n}");
            using var response = await http.SendAsync(request);
            return response.StatusCode switch
            {
                HttpStatusCode.Created => LoadRunner.Outcome.Ok,
                HttpStatusCode.Conflict => LoadRunner.Outcome.Refused,
                _ => LoadRunner.Outcome.Failed,
            };
        }

        // Warm up the JIT, pools and caches before measuring.
        await LoadRunner.RunAsync(concurrency, TimeSpan.FromSeconds(2), (w, n) => PlaceAsync(w, -1 - n));
        var cpuBefore = target.CpuSeconds();
        var run = await LoadRunner.RunAsync(concurrency, duration, PlaceAsync);
        var cpu = target.CpuSeconds() - cpuBefore;
        return new LoadResult("orders", target.Name, run.Ok, run.Refused, run.Failed, run.Seconds, run.P50, run.P99, cpu, target.Server.PeakRssMb());
    }

    internal static async Task<string> TokenAsync(HttpClient http, string userId, string role)
    {
        var response = await http.PostAsJsonAsync("/api/dev/tokens", new { userId, role });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("token").GetString()!;
    }
}
