using System.Net;
using System.Text.Json;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.Platform;

public sealed class OperationsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Health_readiness_and_metrics_answer(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        Assert.Equal("ok", await app.Client.GetStringAsync("/healthz", Ct));

        var ready = await app.Client.GetAsync("/readyz", Ct);
        Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        var body = await ready.JsonAsync();
        var checks = body.GetProperty("checks");
        Assert.Equal("Healthy", checks.GetProperty("sql").GetProperty("status").GetString());
        Assert.Equal("Healthy", checks.GetProperty("hotstate").GetProperty("status").GetString());
        Assert.Contains(backend == Backend.Embedded ? "garnet" : "redis", checks.GetProperty("hotstate").GetProperty("description").GetString());
        Assert.True(checks.TryGetProperty("ffmpeg", out _));

        using var seller = await app.ClientAsAsync("seller-1", "seller");
        using var buyer = await app.ClientAsAsync("buyer-1", "buyer");
        var productId = (await seller.CreateProductAsync(stock: 2)).GetProperty("id").GetString()!;
        await buyer.PlaceOrderAsync(productId);
        await buyer.PlaceOrderAsync(productId, 5);
        string metrics = "";
        await PasarApp.EventuallyAsync(async () =>
        {
            metrics = await app.Client.GetStringAsync("/metrics", Ct);
            return metrics.Contains("pasar_orders_placed", StringComparison.Ordinal);
        }, TimeSpan.FromSeconds(15), "order metrics in /metrics");
        Assert.Contains("http_server_request_duration_seconds", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_OpenAPI_document_lists_every_api_route_and_docs_are_served()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        var doc = JsonDocument.Parse(await app.Client.GetStringAsync("/openapi/v1.json", Ct)).RootElement;
        var paths = doc.GetProperty("paths").EnumerateObject().Select(p => p.Name).ToHashSet();
        foreach (var expected in new[] { "/api/products", "/api/products/{id}", "/api/sellers/{sellerId}/products", "/api/orders", "/api/orders/{id}", "/api/me/orders", "/api/dev/tokens" })
        {
            Assert.Contains(expected, paths);
        }

        var docs = await app.Client.GetAsync("/docs", Ct);
        Assert.Equal(HttpStatusCode.OK, docs.StatusCode);
        Assert.Contains("text/html", docs.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Demo_data_exists_on_the_first_embedded_start_and_only_once()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "pasar-demo-" + Guid.NewGuid().ToString("N")[..8]);
        for (var start = 0; start < 2; start++)
        {
            await using var app = await PasarApp.StartAsync(Backend.Embedded, s =>
            {
                s["Pasar:Demo:Seed"] = "true";
                s["Pasar:DataDir"] = dataDir;
            });
            var products = await app.Client.GetFromJsonDocAsync("/api/products?limit=100");
            Assert.Equal(6, products.GetProperty("items").GetArrayLength());
            Assert.Equal(2L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM users WHERE role = 'seller'"));
        }
    }
}

internal static class HttpClientJson
{
    public static async Task<JsonElement> GetFromJsonDocAsync(this HttpClient client, string url) =>
        JsonDocument.Parse(await client.GetStringAsync(url)).RootElement.Clone();
}
