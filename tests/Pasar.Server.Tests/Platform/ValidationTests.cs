using System.Net;
using System.Text;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.Platform;

/// <summary>Bad input gets a problem with a code and writes nothing.</summary>
public sealed class ValidationTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<Backend, string, string, string> BadBodies()
    {
        var data = new TheoryData<Backend, string, string, string>();
        foreach (var backend in new[] { Backend.Embedded, Backend.Scaled })
        {
            data.Add(backend, "/api/products", "{}", "VALIDATION_FAILED");
            data.Add(backend, "/api/products", """{"title":"t","priceMinor":-1,"currency":"SGD","stock":1}""", "VALIDATION_FAILED");
            data.Add(backend, "/api/products", """{"title":"t","priceMinor":100,"currency":"sgd","stock":1}""", "VALIDATION_FAILED");
            data.Add(backend, "/api/products", """{"title":"t","priceMinor":100,"currency":"SGD","stock":-5}""", "VALIDATION_FAILED");
            data.Add(backend, "/api/products", """{"title":"","priceMinor":100,"currency":"SGD","stock":1}""", "VALIDATION_FAILED");
            data.Add(backend, "/api/products", """{"title":"t","priceMinor":"100","currency":"SGD","stock":1}""", "INVALID_BODY");
            data.Add(backend, "/api/products", """{"title":"t","priceMinor":100,"currency":"SGD","stock":1,"imageUrl":"javascript:alert(1)"}""", "VALIDATION_FAILED");
            data.Add(backend, "/api/products", """{"title":["t"],"priceMinor":100,"currency":"SGD","stock":1}""", "INVALID_BODY");
            data.Add(backend, "/api/products", """{"title":"t",""", "INVALID_BODY");
            data.Add(backend, "/api/products", "", "INVALID_BODY");
            data.Add(backend, "/api/orders", """{"productId":"PRODUCT","quantity":0}""", "VALIDATION_FAILED");
            data.Add(backend, "/api/orders", """{"quantity":1}""", "VALIDATION_FAILED");
            data.Add(backend, "/api/orders", """{"productId":"PRODUCT","quantity":1.5}""", "INVALID_BODY");
            data.Add(backend, "/api/orders", """{"productId":"PRODUCT","quantity":"one"}""", "INVALID_BODY");
            data.Add(backend, "/api/orders", """{"productId":"PRODUCT","quantity":1,"coinsToRedeem":-3}""", "VALIDATION_FAILED");
            data.Add(backend, "/api/orders", """{"productId":"PRODUCT","quantity":100000}""", "VALIDATION_FAILED");
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(BadBodies))]
    public async Task A_bad_body_is_a_400_problem_and_writes_nothing(Backend backend, string route, string body, string code)
    {
        await using var app = await PasarApp.StartAsync(backend);
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        using var buyer = await app.ClientAsAsync("buyer-1", "buyer");
        var productId = (await seller.CreateProductAsync(stock: 5)).GetProperty("id").GetString()!;
        var before = await CountsAsync(app);

        var client = route == "/api/products" ? seller : buyer;
        var response = await client.PostAsync(route, new StringContent(body.Replace("PRODUCT", productId, StringComparison.Ordinal), Encoding.UTF8, "application/json"), Ct);
        var problem = await response.AssertProblemAsync(HttpStatusCode.BadRequest, code);
        if (code == "VALIDATION_FAILED")
        {
            Assert.NotEmpty(problem.GetProperty("errors").EnumerateObject());
        }

        Assert.Equal(before, await CountsAsync(app));
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_ten_megabyte_body_is_refused_before_it_is_read(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        var before = await CountsAsync(app);
        var huge = "{\"title\":\"" + new string('a', 10 * 1024 * 1024) + "\",\"priceMinor\":1,\"currency\":\"SGD\",\"stock\":1}";
        // Expect: 100-continue lets the server answer before the client has pushed 10 MB at it, as real upload clients do.
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/products") { Content = new StringContent(huge, Encoding.UTF8, "application/json") };
        request.Headers.ExpectContinue = true;
        var response = await seller.SendAsync(request, Ct);
        await response.AssertProblemAsync(HttpStatusCode.RequestEntityTooLarge, "PAYLOAD_TOO_LARGE");
        Assert.Equal(before, await CountsAsync(app));
    }

    [Fact]
    public async Task A_bad_idempotency_key_is_a_validation_problem()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        using var buyer = await app.ClientAsAsync("buyer-1", "buyer");
        var productId = (await seller.CreateProductAsync(stock: 5)).GetProperty("id").GetString()!;
        var response = await buyer.PlaceOrderAsync(productId, 1, idempotencyKey: new string('k', 300));
        var problem = await response.AssertProblemAsync(HttpStatusCode.BadRequest, "VALIDATION_FAILED");
        Assert.True(problem.GetProperty("errors").TryGetProperty("Idempotency-Key", out _));
        Assert.Equal(0L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM orders"));
    }

    private static async Task<(long Products, long Orders, long Outbox, long Stock)> CountsAsync(PasarApp app) =>
        (await app.ScalarAsync<long>("SELECT COUNT(*) FROM products"),
         await app.ScalarAsync<long>("SELECT COUNT(*) FROM orders"),
         await app.ScalarAsync<long>("SELECT COUNT(*) FROM outbox"),
         await app.ScalarAsync<long>("SELECT COALESCE(SUM(stock), 0) FROM products"));
}
