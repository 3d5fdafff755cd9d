using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Pasar.Server.Tests.Infrastructure;

public static class ApiClientExtensions
{
    public static async Task<JsonElement> JsonAsync(this HttpResponseMessage response)
    {
        var text = await response.Content.ReadAsStringAsync();
        return text.Length == 0 ? default : JsonDocument.Parse(text).RootElement.Clone();
    }

    /// <summary>Asserts a problem-details response with the given status and machine code; returns its body.</summary>
    public static async Task<JsonElement> AssertProblemAsync(this HttpResponseMessage response, HttpStatusCode status, string code)
    {
        var text = await response.Content.ReadAsStringAsync();
        Assert.True(status == response.StatusCode, $"Expected {(int)status} {code} but got {(int)response.StatusCode}: {text}");
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var body = JsonDocument.Parse(text).RootElement.Clone();
        Assert.Equal(code, body.GetProperty("code").GetString());
        return body;
    }

    public static async Task<JsonElement> CreateProductAsync(this HttpClient seller, int stock = 10, long priceMinor = 1990, string title = "Test product")
    {
        var response = await seller.PostAsJsonAsync("/api/products", new { title, priceMinor, currency = "SGD", stock });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return await response.JsonAsync();
    }

    public static Task<HttpResponseMessage> PlaceOrderAsync(this HttpClient buyer, string productId, int quantity = 1, string? idempotencyKey = null, object? extra = null)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, "/api/orders")
        {
            Content = JsonContent.Create(extra ?? new { productId, quantity }),
        };
        if (idempotencyKey is not null)
        {
            request.Headers.Add("Idempotency-Key", idempotencyKey);
        }

        return buyer.SendAsync(request);
    }
}
