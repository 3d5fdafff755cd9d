using System.Net;
using System.Net.Http.Json;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.Social;

/// <summary>SPEC §17: share-link clicks count a bounded number per client address per share per hour.</summary>
public sealed class ShareClickBoundTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Clicks_from_one_address_with_random_user_agents_and_no_cookie_count_exactly_the_bound(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend, s => s["Pasar:Http:ForwardedHeaders"] = "true");
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        var productId = (await seller.CreateProductAsync()).GetProperty("id").GetString()!;
        using var sharer = await app.ClientAsAsync("buyer-sharer", "buyer");
        var code = (await (await sharer.PostAsJsonAsync($"/api/products/{productId}/shares", new { platform = "copy" }, Ct)).JsonAsync())
            .GetProperty("trackingCode").GetString()!;

        using var script = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = app.BaseAddress };
        async Task ClickAsync(string? forwardedFor = null)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, $"/s/{code}");
            request.Headers.UserAgent.ParseAdd($"bot/{Guid.NewGuid():N}");
            if (forwardedFor is not null)
            {
                request.Headers.Add("X-Forwarded-For", forwardedFor);
            }

            using var response = await script.SendAsync(request, Ct);
            Assert.Equal(HttpStatusCode.Redirect, response.StatusCode); // the visitor still gets the page
        }

        for (var i = 0; i < 60; i++)
        {
            await ClickAsync();
        }

        const int bound = 20; // Pasar:Social:ClicksPerAddressPerHour, default
        Assert.Equal(bound, await app.ScalarAsync<long>("SELECT clicks FROM shares WHERE tracking_code = @code", new { code }));
        // Only counted clicks wrote rows (a cookie id and a fingerprint each); the 40 others wrote none.
        Assert.Equal(2 * bound, await app.ScalarAsync<long>("SELECT COUNT(*) FROM share_clicks WHERE tracking_code = @code", new { code }));

        // Another address (behind the trusted proxy) has its own bound.
        await ClickAsync("198.51.100.9");
        Assert.Equal(bound + 1, await app.ScalarAsync<long>("SELECT clicks FROM shares WHERE tracking_code = @code", new { code }));
    }
}
