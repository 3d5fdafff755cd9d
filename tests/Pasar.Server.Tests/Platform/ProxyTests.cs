using System.Net;
using System.Net.Http.Json;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.Platform;

/// <summary>SPEC §17, behind a proxy: forwarded headers only from trusted proxies, and public URLs never from a forged Host.</summary>
public sealed class ProxyTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<(string Code, HttpResponseMessage Response)> ShareAsync(PasarApp app, Action<HttpRequestMessage>? decorate = null)
    {
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        var productId = (await seller.CreateProductAsync()).GetProperty("id").GetString()!;
        using var sharer = await app.ClientAsAsync("buyer-sharer", "buyer");
        using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/products/{productId}/shares") { Content = JsonContent.Create(new { platform = "x" }) };
        decorate?.Invoke(request);
        var response = await sharer.SendAsync(request, Ct);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return ((await response.JsonAsync()).GetProperty("trackingCode").GetString()!, response);
    }

    /// <summary>A click without a cookie and always the same user agent, from the client address the proxy names.</summary>
    private static async Task<HttpResponseMessage> ClickAsync(PasarApp app, string code, string forwardedFor, string proto = "http")
    {
        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false, UseCookies = false }) { BaseAddress = app.BaseAddress };
        using var request = new HttpRequestMessage(HttpMethod.Get, $"/s/{code}");
        request.Headers.UserAgent.ParseAdd("same-agent/1");
        request.Headers.Add("X-Forwarded-For", forwardedFor);
        request.Headers.Add("X-Forwarded-Proto", proto);
        var response = await client.SendAsync(request, Ct);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        return response;
    }

    private static async Task<long> ClicksAsync(PasarApp app, string code) =>
        await app.ScalarAsync<long>("SELECT clicks FROM shares WHERE tracking_code = @code", new { code });

    [Fact]
    public async Task From_a_trusted_proxy_the_forwarded_address_scheme_and_host_are_the_clients()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded, s => s["Pasar:Http:ForwardedHeaders"] = "true");
        var (code, created) = await ShareAsync(app, r =>
        {
            r.Headers.Add("X-Forwarded-Proto", "https");
            r.Headers.Add("X-Forwarded-Host", "shop.example");
        });
        Assert.Equal($"https://shop.example/s/{code}", (await created.JsonAsync()).GetProperty("url").GetString());

        // Two people behind the proxy with the same browser build are two visitors: their addresses differ.
        await ClickAsync(app, code, "198.51.100.1");
        var second = await ClickAsync(app, code, "198.51.100.2", proto: "https");
        Assert.Equal(2, await ClicksAsync(app, code));
        // Over TLS at the proxy, the visitor cookie is Secure.
        Assert.Contains(second.Headers.GetValues("Set-Cookie"), c => c.StartsWith("pasar_vid=", StringComparison.Ordinal) && c.Contains("secure", StringComparison.OrdinalIgnoreCase));
        var plain = await ClickAsync(app, code, "198.51.100.3");
        Assert.DoesNotContain(plain.Headers.GetValues("Set-Cookie"), c => c.Contains("secure", StringComparison.OrdinalIgnoreCase));
    }

    [Fact]
    public async Task From_an_untrusted_peer_the_forwarded_headers_are_ignored()
    {
        // The test client connects from loopback; a configured list replaces the loopback default.
        await using var app = await PasarApp.StartAsync(Backend.Embedded, s =>
        {
            s["Pasar:Http:ForwardedHeaders"] = "true";
            s["Pasar:Http:TrustedProxies"] = "192.0.2.10, 10.20.0.0/16";
        });
        var (code, created) = await ShareAsync(app, r =>
        {
            r.Headers.Add("X-Forwarded-Proto", "https");
            r.Headers.Add("X-Forwarded-Host", "shop.example");
        });
        Assert.Equal($"{app.BaseAddress.GetLeftPart(UriPartial.Authority)}/s/{code}", (await created.JsonAsync()).GetProperty("url").GetString());

        await ClickAsync(app, code, "198.51.100.1");
        var second = await ClickAsync(app, code, "198.51.100.2", proto: "https");
        Assert.Equal(1, await ClicksAsync(app, code)); // one address, one user agent: one visitor
        Assert.False(second.Headers.TryGetValues("Set-Cookie", out var cookies) && cookies.Any(c => c.Contains("secure", StringComparison.OrdinalIgnoreCase)));
    }

    [Fact]
    public async Task Without_forwarded_headers_on_they_are_ignored_even_from_loopback()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        var (code, _) = await ShareAsync(app);
        await ClickAsync(app, code, "198.51.100.1");
        await ClickAsync(app, code, "198.51.100.2");
        Assert.Equal(1, await ClicksAsync(app, code));
    }

    [Fact]
    public async Task With_a_public_base_url_a_forged_Host_never_reaches_share_or_RTMP_urls()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded, s => s["Pasar:Http:PublicBaseUrl"] = "https://pasar.example/");
        var (code, created) = await ShareAsync(app, r => r.Headers.Host = "evil.example");
        var url = (await created.JsonAsync()).GetProperty("url").GetString()!;
        Assert.Equal($"https://pasar.example/s/{code}", url);
        Assert.Equal(url, created.Headers.Location?.OriginalString);

        using var seller = await app.ClientAsAsync("seller-live", "seller");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/api/live/sessions") { Content = JsonContent.Create(new { title = "Show" }) };
        request.Headers.Host = "evil.example";
        var session = await (await seller.SendAsync(request, Ct)).JsonAsync();
        Assert.StartsWith("rtmp://pasar.example:", session.GetProperty("rtmpUrl").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task AllowedHosts_refuses_a_request_for_another_host()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded, s => s["AllowedHosts"] = "pasar.example;127.0.0.1");
        using var client = app.NewClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/products", Ct)).StatusCode);
        using var forged = new HttpRequestMessage(HttpMethod.Get, "/api/products");
        forged.Headers.Host = "evil.example";
        Assert.Equal(HttpStatusCode.BadRequest, (await client.SendAsync(forged, Ct)).StatusCode);
    }
}
