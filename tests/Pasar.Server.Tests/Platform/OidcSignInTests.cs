using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Pasar.Server.Tests.Infrastructure;
using Pasar.Testing;

namespace Pasar.Server.Tests.Platform;

/// <summary>
/// Tokens from an OpenID Connect provider (SPEC §17, <c>Pasar:Auth:Authority</c>) validate through its discovery
/// document and JWKS, beside the HS256 key. The provider is a small one started by the test.
/// </summary>
public sealed class OidcSignInTests
{
    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task An_RS256_token_from_the_provider_is_accepted_and_its_user_recorded(Backend backend)
    {
        await using var provider = await TestOidcProvider.StartAsync(ct: TestContext.Current.CancellationToken);
        await using var app = await StartAsync(backend, provider);

        using var buyer = Client(app, provider.IssueAccessToken("idp-buyer-1", "Sari Wijaya"));
        using var seller = Client(app, provider.IssueAccessToken("idp-seller-1", "Toko Sari", role: "seller"));

        var orders = await buyer.GetAsync("/api/me/orders", TestContext.Current.CancellationToken);
        Assert.True(orders.StatusCode == HttpStatusCode.OK, await orders.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
        Assert.Equal("Sari Wijaya", await app.ScalarAsync<string>("SELECT name FROM users WHERE id = 'idp-buyer-1'"));
        // No role claim: a buyer, so not allowed to sell.
        Assert.Equal("buyer", await app.ScalarAsync<string>("SELECT role FROM users WHERE id = 'idp-buyer-1'"));
        var refusedSale = await buyer.PostAsync("/api/products", Product(), TestContext.Current.CancellationToken);
        await refusedSale.AssertProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        var sale = await seller.PostAsync("/api/products", Product(), TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.Created, sale.StatusCode);

        // The shared HS256 key still works beside the provider.
        using var dev = await app.ClientAsAsync("dev-user", "buyer");
        Assert.Equal(HttpStatusCode.OK, (await dev.GetAsync("/api/me/orders", TestContext.Current.CancellationToken)).StatusCode);
    }

    [Fact]
    public async Task A_token_signed_by_another_key_under_the_providers_key_id_is_refused()
    {
        await using var provider = await TestOidcProvider.StartAsync(ct: TestContext.Current.CancellationToken);
        await using var app = await StartAsync(Backend.Embedded, provider);
        using var otherKey = RSA.Create(2048);
        using var client = Client(app, provider.IssueAccessToken("idp-forger", "Forger", role: "admin", signWith: otherKey));

        var response = await client.GetAsync("/api/me/orders", TestContext.Current.CancellationToken);

        await response.AssertProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        Assert.Equal(0L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM users WHERE id = 'idp-forger'"));
    }

    [Fact]
    public async Task A_provider_token_for_another_audience_is_refused()
    {
        await using var provider = await TestOidcProvider.StartAsync(ct: TestContext.Current.CancellationToken);
        await using var app = await StartAsync(Backend.Embedded, provider);
        using var client = Client(app, provider.IssueAccessToken("idp-elsewhere", "Elsewhere", audience: "another-api"));

        var response = await client.GetAsync("/api/me/orders", TestContext.Current.CancellationToken);

        await response.AssertProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
    }

    [Fact]
    public async Task A_provider_token_with_two_roles_is_refused()
    {
        await using var provider = await TestOidcProvider.StartAsync(ct: TestContext.Current.CancellationToken);
        await using var app = await StartAsync(Backend.Embedded, provider);
        using var client = Client(app, provider.IssueAccessToken("idp-two", extra: new Dictionary<string, object> { ["role"] = new[] { "buyer", "admin" } }));

        var response = await client.GetAsync("/api/me/orders", TestContext.Current.CancellationToken);

        await response.AssertProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
    }

    [Fact]
    public async Task The_role_claim_is_configurable()
    {
        await using var provider = await TestOidcProvider.StartAsync(ct: TestContext.Current.CancellationToken);
        await using var app = await StartAsync(Backend.Embedded, provider, s => s["Pasar:Auth:RoleClaim"] = "pasar_role");
        using var client = Client(app, provider.IssueAccessToken("idp-admin", "Ops", extra: new Dictionary<string, object> { ["pasar_role"] = "admin" }));

        client.DefaultRequestHeaders.Add("Idempotency-Key", "welcome-idp-admin");
        var response = await client.PostAsJsonAsync("/api/admin/coins/adjustments", new { userId = "idp-admin", amount = 5, reason = "welcome" }, TestContext.Current.CancellationToken);

        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task The_web_app_learns_the_provider_and_client_id_from_the_auth_config()
    {
        await using var provider = await TestOidcProvider.StartAsync(ct: TestContext.Current.CancellationToken);
        await using var app = await StartAsync(Backend.Embedded, provider, s => s["Pasar:Auth:DevTokens"] = "false");

        var config = await app.Client.GetFromJsonAsync<JsonElement>("/api/auth/config", TestContext.Current.CancellationToken);

        Assert.False(config.GetProperty("devTokens").GetBoolean());
        Assert.Equal(provider.Authority, config.GetProperty("authority").GetString());
        Assert.Equal(provider.ClientId, config.GetProperty("clientId").GetString());
        Assert.Equal("openid profile", config.GetProperty("scope").GetString());
    }

    [Fact]
    public async Task The_code_flow_gives_a_token_Pasar_accepts_only_with_the_PKCE_verifier_of_its_challenge()
    {
        await using var provider = await TestOidcProvider.StartAsync(ct: TestContext.Current.CancellationToken);
        await using var app = await StartAsync(Backend.Embedded, provider);
        using var browser = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false });
        var redirect = new Uri(app.BaseAddress, "/auth/callback").ToString();

        async Task<HttpResponseMessage> Exchange(string verifierSent, string verifierUsed)
        {
            var challenge = TestOidcProvider.Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(verifierSent)));
            var authorize = await browser.GetAsync(
                $"{provider.Authority}/authorize?response_type=code&client_id={provider.ClientId}&redirect_uri={Uri.EscapeDataString(redirect)}&scope=openid&state=s1&code_challenge={challenge}&code_challenge_method=S256",
                TestContext.Current.CancellationToken);
            Assert.Equal(HttpStatusCode.Redirect, authorize.StatusCode);
            var code = System.Web.HttpUtility.ParseQueryString(authorize.Headers.Location!.Query)["code"]!;
            return await browser.PostAsync($"{provider.Authority}/token", new FormUrlEncodedContent(new Dictionary<string, string>
            {
                ["grant_type"] = "authorization_code",
                ["code"] = code,
                ["redirect_uri"] = redirect,
                ["client_id"] = provider.ClientId,
                ["code_verifier"] = verifierUsed,
            }), TestContext.Current.CancellationToken);
        }

        var stolen = await Exchange("the-verifier-of-this-browser-0123456789abcdef", "a-guessed-verifier-0123456789abcdef0123456789");
        var own = await Exchange("the-verifier-of-this-browser-0123456789abcdef", "the-verifier-of-this-browser-0123456789abcdef");

        Assert.Equal(HttpStatusCode.BadRequest, stolen.StatusCode);
        Assert.Equal(1, provider.RefusedVerifiers);
        Assert.Equal(HttpStatusCode.OK, own.StatusCode);
        var token = (await own.Content.ReadFromJsonAsync<JsonElement>(TestContext.Current.CancellationToken)).GetProperty("access_token").GetString()!;
        using var client = Client(app, token);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/me/orders", TestContext.Current.CancellationToken)).StatusCode);
    }

    [Theory]
    [InlineData("http://idp.example.com")]
    [InlineData("not a url")]
    public async Task An_authority_that_is_not_https_or_loopback_fails_the_start(string authority)
    {
        var ex = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => PasarApp.StartAsync(Backend.Embedded, s =>
        {
            s["Pasar:Auth:Authority"] = authority;
            s["Pasar:Auth:ClientId"] = "pasar-web";
        }));
        Assert.Contains("Pasar:Auth:Authority", ex.Message, StringComparison.Ordinal);
    }

    private static Task<PasarApp> StartAsync(Backend backend, TestOidcProvider provider, Action<Dictionary<string, string?>>? configure = null) =>
        PasarApp.StartAsync(backend, s =>
        {
            s["Pasar:Auth:Authority"] = provider.Authority;
            s["Pasar:Auth:ClientId"] = provider.ClientId;
            configure?.Invoke(s);
        });

    private static HttpClient Client(PasarApp app, string token)
    {
        var client = app.NewClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", token);
        return client;
    }

    private static StringContent Product() => new("""{"title":"Batik","priceMinor":1990,"currency":"SGD","stock":3}""", Encoding.UTF8, "application/json");
}
