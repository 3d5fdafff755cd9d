using System.Net;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.Social;

public sealed class FollowsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Following_is_idempotent_and_the_seller_hears_about_it(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        using var seller = await app.ClientAsAsync("seller-1", "seller", "Ayu Batik");
        using var buyer = await app.ClientAsAsync("buyer-1", "buyer", "Citra");
        await seller.GetAsync("/api/me/orders", Ct); // the seller has signed in once

        Assert.Equal(HttpStatusCode.NoContent, (await buyer.PutAsync("/api/me/following/seller-1", null, Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await buyer.PutAsync("/api/me/following/seller-1", null, Ct)).StatusCode);
        var profile = await (await app.Client.GetAsync("/api/sellers/seller-1", Ct)).JsonAsync();
        Assert.Equal("Ayu Batik", profile.GetProperty("name").GetString());
        Assert.Equal(1, profile.GetProperty("followers").GetInt64());
        Assert.False(profile.GetProperty("isLive").GetBoolean());

        var following = await (await buyer.GetAsync("/api/me/following", Ct)).JsonAsync();
        Assert.Equal("seller-1", following.GetProperty("items")[0].GetProperty("id").GetString());

        await PasarApp.EventuallyAsync(async () =>
        {
            var inbox = await (await seller.GetAsync("/api/me/notifications", Ct)).JsonAsync();
            return inbox.GetProperty("items").EnumerateArray().Count(n => n.GetProperty("type").GetString() == "NEW_FOLLOWER") == 1;
        }, TimeSpan.FromSeconds(10), "one NEW_FOLLOWER notification for the seller");

        Assert.Equal(HttpStatusCode.NoContent, (await buyer.DeleteAsync("/api/me/following/seller-1", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, (await buyer.DeleteAsync("/api/me/following/seller-1", Ct)).StatusCode);
        Assert.Equal(0, (await (await app.Client.GetAsync("/api/sellers/seller-1", Ct)).JsonAsync()).GetProperty("followers").GetInt64());

        await (await seller.PutAsync("/api/me/following/seller-1", null, Ct)).AssertProblemAsync(HttpStatusCode.BadRequest, "CANNOT_FOLLOW_SELF");
        await (await buyer.PutAsync("/api/me/following/nobody", null, Ct)).AssertProblemAsync(HttpStatusCode.NotFound, "SELLER_NOT_FOUND");
        await (await buyer.PutAsync("/api/me/following/buyer-1", null, Ct)).AssertProblemAsync(HttpStatusCode.BadRequest, "CANNOT_FOLLOW_SELF");
        await (await app.Client.GetAsync("/api/sellers/buyer-1", Ct)).AssertProblemAsync(HttpStatusCode.NotFound, "SELLER_NOT_FOUND");
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Concurrent_follow_and_unfollow_toggles_keep_the_count_equal_to_the_rows(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        await seller.GetAsync("/api/me/orders", Ct);
        var users = await Task.WhenAll(Enumerable.Range(0, 25).Select(i => app.ClientAsAsync($"buyer-{i}", "buyer")));

        using var start = new ManualResetEventSlim();
        var toggles = users.SelectMany((u, i) => Enumerable.Range(0, 50).Select(n => Task.Run(async () =>
        {
            start.Wait(Ct);
            return (n + i) % 2 == 0
                ? await u.PutAsync("/api/me/following/seller-1", null, Ct)
                : await u.DeleteAsync("/api/me/following/seller-1", Ct);
        }, Ct))).ToList();
        start.Set();
        var responses = await Task.WhenAll(toggles);
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.NoContent, r.StatusCode));

        var rows = await app.ScalarAsync<long>("SELECT COUNT(*) FROM follows WHERE seller_id = 'seller-1'");
        var shown = (await (await app.Client.GetAsync("/api/sellers/seller-1", Ct)).JsonAsync()).GetProperty("followers").GetInt64();
        Assert.Equal(rows, shown);
        foreach (var u in users)
        {
            u.Dispose();
        }
    }
}
