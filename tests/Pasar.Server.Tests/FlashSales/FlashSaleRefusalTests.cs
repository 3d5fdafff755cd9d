using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.FlashSales;

/// <summary>
/// The refusals of a burst are written from prepared bytes; a client sees exactly what the framework's problem
/// details would say (the same body, code and headers; only the trace id is the request's own), and a buyer's
/// retry of a purchase that went through still gets its order after the sale ended.
/// </summary>
public sealed class FlashSaleRefusalTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Refusals_read_as_the_framework_writes_them_and_a_buyers_retry_after_the_end_gets_its_order(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        var show = await FlashSaleTests.OnAirAsync(app, stock: 20);
        var winner = await app.TokenAsync("winner", "buyer");
        var late = await app.TokenAsync("late", "buyer");

        // An active sale (two units, so it is still on after the winner's): the gate refuses the winner's second tap.
        var first = (await FlashSaleTests.StartSaleAsync(show.Seller, show.SessionId,
            new { productId = show.ProductId, salePriceMinor = 500, quantity = 2, perUserLimit = 1 })).GetProperty("id").GetString()!;
        var bought = await FlashSaleTests.BuyAsync(app.Client, winner, first, key: "winner-1");
        Assert.Equal(HttpStatusCode.Created, bought.StatusCode);
        var orderId = (await bought.JsonAsync()).GetProperty("id").GetString();
        await AssertRefusalAsync(app, winner, first, "LIMIT_REACHED",
            """{"type":"https://pasar.dev/problems/limit-reached","title":"Limit reached","status":409,"detail":"You have bought as many as this flash sale allows per buyer.","code":"LIMIT_REACHED","traceId":"{trace}"}""");

        // Another buyer takes the last unit. Sold out and closed: every node answers from the ended sale.
        Assert.Equal(HttpStatusCode.Created, (await FlashSaleTests.BuyAsync(app.Client, await app.TokenAsync("second", "buyer"), first, key: "second-1")).StatusCode);
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while ((await (await app.Client.GetAsync($"/api/flash-sales/{first}", Ct)).JsonAsync()).GetProperty("status").GetString() != "ended")
        {
            Assert.True(DateTime.UtcNow < deadline, "the sold-out sale did not close");
            await Task.Delay(100, Ct);
        }

        var soldOut = """{"type":"https://pasar.dev/problems/sold-out","title":"Sold out","status":409,"detail":"Every unit of this flash sale is taken.","code":"SOLD_OUT","traceId":"{trace}"}""";
        await AssertRefusalAsync(app, late, first, "SOLD_OUT", soldOut);
        await AssertRefusalAsync(app, winner, first, "SOLD_OUT", soldOut);
        var retry = await FlashSaleTests.BuyAsync(app.Client, winner, first, key: "winner-1");
        Assert.Equal(HttpStatusCode.Created, retry.StatusCode);
        Assert.Equal(orderId, (await retry.JsonAsync()).GetProperty("id").GetString());
        await (await FlashSaleTests.BuyAsync(app.Client, winner, first, quantity: 1, key: "winner-1-other")).AssertProblemAsync(HttpStatusCode.Conflict, "SOLD_OUT");
        var mismatch = new HttpRequestMessage(HttpMethod.Post, $"/api/flash-sales/{first}/purchases") { Content = JsonContent.Create(new { quantity = 2 }) };
        mismatch.Headers.Authorization = new AuthenticationHeaderValue("Bearer", winner);
        mismatch.Headers.Add("Idempotency-Key", "winner-1");
        await (await app.Client.SendAsync(mismatch, Ct)).AssertProblemAsync(HttpStatusCode.UnprocessableEntity, "IDEMPOTENCY_MISMATCH");
        Assert.Equal(2L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM orders WHERE flash_sale_id = @first", new { first }));
    }

    /// <summary>The prepared answer (no Accept header) and the framework's own (Accept: application/json), side by side.</summary>
    private static async Task AssertRefusalAsync(PasarApp app, string token, string saleId, string code, string expected)
    {
        var answers = new List<(string Body, HttpResponseMessage Response)>();
        foreach (var accept in new[] { null, "application/json" })
        {
            var request = new HttpRequestMessage(HttpMethod.Post, $"/api/flash-sales/{saleId}/purchases") { Content = JsonContent.Create(new { quantity = 1 }) };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString("N"));
            if (accept is not null)
            {
                request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue(accept));
            }

            var response = await app.Client.SendAsync(request, Ct);
            var body = await response.Content.ReadAsStringAsync(Ct);
            Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
            var trace = JsonDocument.Parse(body).RootElement.GetProperty("traceId").GetString()!;
            Assert.False(string.IsNullOrEmpty(trace));
            Assert.Equal(expected.Replace("{trace}", trace, StringComparison.Ordinal), body);
            Assert.Equal(code, JsonDocument.Parse(body).RootElement.GetProperty("code").GetString());
            answers.Add((body, response));
        }

        var (prepared, framework) = (answers[0].Response, answers[1].Response);
        Assert.Equal(framework.Content.Headers.ContentType?.ToString(), prepared.Content.Headers.ContentType?.ToString());
        Assert.Equal("application/problem+json", prepared.Content.Headers.ContentType?.ToString());
        Assert.Equal(framework.Headers.GetValues("X-Content-Type-Options"), prepared.Headers.GetValues("X-Content-Type-Options"));
        Assert.Equal(answers[0].Body.Length, prepared.Content.Headers.ContentLength);
    }
}
