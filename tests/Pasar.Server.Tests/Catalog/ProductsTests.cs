using System.Net;
using System.Net.Http.Json;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.Catalog;

public sealed class ProductsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_seller_lists_a_product_and_anyone_can_read_it(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        var response = await seller.PostAsJsonAsync("/api/products",
            new { title = "  Batik scarf ", description = "Cotton", priceMinor = 3990, currency = "SGD", stock = 12, imageUrl = "https://img.example/s.jpg" }, Ct);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var created = await response.JsonAsync();
        var id = created.GetProperty("id").GetString()!;
        Assert.Equal($"/api/products/{id}", response.Headers.Location?.OriginalString);

        var read = await (await app.Client.GetAsync($"/api/products/{id}", Ct)).JsonAsync();
        Assert.Equal("seller-1", read.GetProperty("sellerId").GetString());
        Assert.Equal("Batik scarf", read.GetProperty("title").GetString());
        Assert.Equal(3990, read.GetProperty("priceMinor").GetInt64());
        Assert.Equal("SGD", read.GetProperty("currency").GetString());
        Assert.Equal(12, read.GetProperty("stock").GetInt32());
        Assert.Equal("https://img.example/s.jpg", read.GetProperty("imageUrl").GetString());

        var bySeller = await (await app.Client.GetAsync("/api/sellers/seller-1/products", Ct)).JsonAsync();
        Assert.Equal(id, bySeller.GetProperty("items")[0].GetProperty("id").GetString());
        Assert.Equal(1L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM outbox WHERE type = 'ProductCreated'"));

        await (await app.Client.GetAsync("/api/products/nope", Ct)).AssertProblemAsync(HttpStatusCode.NotFound, "PRODUCT_NOT_FOUND");
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Only_the_owner_changes_a_product_and_a_lower_price_records_a_price_drop(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        using var owner = await app.ClientAsAsync("seller-1", "seller");
        using var other = await app.ClientAsAsync("seller-2", "seller");
        var id = (await owner.CreateProductAsync(stock: 5, priceMinor: 5000)).GetProperty("id").GetString()!;

        await (await other.PatchAsJsonAsync($"/api/products/{id}", new { priceMinor = 1 }, Ct)).AssertProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");

        var raised = await owner.PatchAsJsonAsync($"/api/products/{id}", new { priceMinor = 6000 }, Ct);
        Assert.Equal(HttpStatusCode.OK, raised.StatusCode);
        Assert.Equal(0L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM outbox WHERE type = 'ProductPriceDropped'"));

        var lowered = await (await owner.PatchAsJsonAsync($"/api/products/{id}", new { priceMinor = 4500, title = "On sale" }, Ct)).JsonAsync();
        Assert.Equal(4500, lowered.GetProperty("priceMinor").GetInt64());
        Assert.Equal("On sale", lowered.GetProperty("title").GetString());
        Assert.Equal(5, lowered.GetProperty("stock").GetInt32());
        Assert.Equal(1L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM outbox WHERE type = 'ProductPriceDropped'"));
        Assert.Equal(4500L, await app.ScalarAsync<long>("SELECT price_minor FROM products WHERE id = @id", new { id }));
    }

    [Fact]
    public async Task Lists_page_newest_first_without_repeats_or_gaps()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        var created = new List<string>();
        for (var i = 0; i < 25; i++)
        {
            created.Add((await seller.CreateProductAsync(title: $"P{i}")).GetProperty("id").GetString()!);
        }

        var seen = new List<string>();
        var times = new List<DateTimeOffset>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await (await app.Client.GetAsync($"/api/sellers/seller-1/products?limit=10{(cursor is null ? "" : "&cursor=" + cursor)}", Ct)).JsonAsync();
            seen.AddRange(page.GetProperty("items").EnumerateArray().Select(p => p.GetProperty("id").GetString()!));
            times.AddRange(page.GetProperty("items").EnumerateArray().Select(p => p.GetProperty("createdAt").GetDateTimeOffset()));
            cursor = page.GetProperty("nextCursor").GetString();
            pages++;
            if (pages == 1)
            {
                // A product listed between pages must not shift the pages the reader has not seen yet.
                await seller.CreateProductAsync(title: "late");
            }
        }
        while (cursor is not null);

        Assert.Equal(3, pages);
        Assert.Equal(25, seen.Distinct().Count());
        Assert.Equal(created.Order(), seen.Order());
        Assert.Equal(times.OrderDescending(), times);

        await (await app.Client.GetAsync("/api/products?limit=0", Ct)).AssertProblemAsync(HttpStatusCode.BadRequest, "VALIDATION_FAILED");
        await (await app.Client.GetAsync("/api/products?limit=101", Ct)).AssertProblemAsync(HttpStatusCode.BadRequest, "VALIDATION_FAILED");
        await (await app.Client.GetAsync("/api/products?cursor=not-a-cursor", Ct)).AssertProblemAsync(HttpStatusCode.BadRequest, "VALIDATION_FAILED");
    }
}
