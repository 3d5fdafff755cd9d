using System.Net;
using System.Net.Http.Json;
using Dapper;
using Microsoft.Extensions.DependencyInjection;
using Pasar.Server.Platform.Storage;
using Pasar.Server.Social;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.Social;

public sealed class FeedTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task The_feed_shows_what_followed_sellers_do_newest_first(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        using var followed = await app.ClientAsAsync("seller-1", "seller");
        using var other = await app.ClientAsAsync("seller-2", "seller");
        using var buyer = await app.ClientAsAsync("buyer-1", "buyer");
        await followed.GetAsync("/api/me/orders", Ct);
        await buyer.PutAsync("/api/me/following/seller-1", null, Ct);

        var productId = (await followed.CreateProductAsync(priceMinor: 5000)).GetProperty("id").GetString()!;
        await other.CreateProductAsync();
        await followed.PatchAsJsonAsync($"/api/products/{productId}", new { priceMinor = 3900 }, Ct);

        System.Text.Json.JsonElement feed = default;
        await PasarApp.EventuallyAsync(async () =>
        {
            feed = await (await buyer.GetAsync("/api/me/feed", Ct)).JsonAsync();
            return feed.GetProperty("items").GetArrayLength() == 2;
        }, TimeSpan.FromSeconds(10), "two activities in the feed");
        var items = feed.GetProperty("items");
        Assert.Equal("PRICE_DROP", items[0].GetProperty("type").GetString());
        Assert.Equal("NEW_PRODUCT", items[1].GetProperty("type").GetString());
        Assert.All(items.EnumerateArray(), a =>
        {
            Assert.Equal("seller-1", a.GetProperty("sellerId").GetString());
            Assert.Equal(productId, a.GetProperty("productId").GetString());
        });
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Paging_the_feed_misses_and_repeats_nothing_while_new_activities_arrive(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        using var buyer = await app.ClientAsAsync("buyer-1", "buyer");
        var db = app.Services.GetRequiredService<Database>();
        var followedSellers = Enumerable.Range(0, 30).Select(i => $"seller-{i}").ToList();
        await db.InTransactionAsync(async (c, tx) =>
        {
            foreach (var s in followedSellers.Concat(Enumerable.Range(30, 30).Select(i => $"seller-{i}")))
            {
                await c.ExecuteAsync("INSERT INTO users (id, name, role, created_at) VALUES (@s, @s, 'seller', 0)", new { s }, tx);
            }

            foreach (var s in followedSellers)
            {
                await c.ExecuteAsync("INSERT INTO follows (follower_id, seller_id, created_at) VALUES ('buyer-1', @s, 0)", new { s }, tx);
            }

            // 600 activities over 60 sellers, several sharing a millisecond: the cursor must break ties by id.
            for (var n = 0; n < 600; n++)
            {
                await Feed.RecordAsync(c, tx, $"a{n:D4}", $"seller-{n % 60}", ActivityTypes.NewProduct, DateTimeOffset.FromUnixTimeMilliseconds(1_000_000 + (n / 3)), productId: $"p{n}");
            }
        }, Ct);
        var expected = Enumerable.Range(0, 600).Where(n => n % 60 < 30).Select(n => $"a{n:D4}").ToHashSet();

        var seen = new List<string>();
        string? cursor = null;
        var late = 0;
        do
        {
            var page = await (await buyer.GetAsync($"/api/me/feed?limit=17{(cursor is null ? "" : "&cursor=" + cursor)}", Ct)).JsonAsync();
            seen.AddRange(page.GetProperty("items").EnumerateArray().Select(a => a.GetProperty("id").GetString()!));
            cursor = page.GetProperty("nextCursor").GetString();
            // New activities keep arriving at the top while the reader pages down.
            await db.InTransactionAsync(async (c, tx) => await Feed.RecordAsync(c, tx, $"late{late++}", "seller-1", ActivityTypes.PriceDrop, DateTimeOffset.FromUnixTimeMilliseconds(2_000_000 + late), ct: Ct), Ct);
        }
        while (cursor is not null);

        Assert.Equal(seen.Count, seen.Distinct().Count());
        Assert.Equal(expected, seen.ToHashSet());
        Assert.Equal(expected.OrderDescending(StringComparer.Ordinal), seen);
    }
}
