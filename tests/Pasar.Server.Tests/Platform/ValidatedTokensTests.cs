using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Pasar.Server.Platform.Auth;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.Platform;

/// <summary>
/// A token whose signature was checked once is remembered (ADR 0026), and that changes nothing about who is let in:
/// an expired token is refused although it validated before, a changed token is checked in full and refused, and
/// every token keeps its own user.
/// </summary>
public sealed class ValidatedTokensTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_remembered_token_is_refused_once_it_expires()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        // Expired 18 s ago: still inside the 30 s clock skew, so it validates now (with room for a loaded machine)
        // and is refused once exp + skew has passed.
        var expires = DateTime.UtcNow.AddSeconds(-18);
        var token = Mint(app, "late-buyer", "buyer", issued: expires.AddMinutes(-10), expires: expires);
        var cache = app.Services.GetRequiredService<ValidatedTokens>();

        Assert.Equal(HttpStatusCode.OK, (await GetOrdersAsync(app, token)).StatusCode);
        Assert.True(cache.TryGet(AuthModule.KeyScheme, token, out _));
        Assert.Equal(HttpStatusCode.OK, (await GetOrdersAsync(app, token)).StatusCode);

        var refusedFrom = expires.AddSeconds(31);
        if (refusedFrom > DateTime.UtcNow)
        {
            await Task.Delay(refusedFrom - DateTime.UtcNow, Ct);
        }

        await (await GetOrdersAsync(app, token)).AssertProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        Assert.False(cache.TryGet(AuthModule.KeyScheme, token, out _));
    }

    [Fact]
    public async Task A_changed_token_is_refused_while_the_genuine_one_is_remembered()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        var token = await app.TokenAsync("buyer-1", "buyer");
        Assert.Equal(HttpStatusCode.OK, (await GetOrdersAsync(app, token)).StatusCode);

        var parts = token.Split('.');
        // The same signature over a payload that says "admin"; and the genuine payload with a changed signature.
        var payload = Encoding.UTF8.GetString(Base64UrlEncoder.DecodeBytes(parts[1])).Replace("\"buyer\"", "\"admin\"", StringComparison.Ordinal);
        var elevated = $"{parts[0]}.{Base64UrlEncoder.Encode(payload)}.{parts[2]}";
        var badSignature = $"{parts[0]}.{parts[1]}.{parts[2][..^2]}{(parts[2][^2] == 'A' ? 'B' : 'A')}{parts[2][^1]}";

        await (await GetOrdersAsync(app, elevated)).AssertProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        await (await GetOrdersAsync(app, badSignature)).AssertProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        var admin = new HttpRequestMessage(HttpMethod.Post, "/api/admin/coins/adjustments")
        {
            Content = new StringContent("""{"userId":"buyer-1","amount":1000,"reason":"x"}""", Encoding.UTF8, "application/json"),
        };
        admin.Headers.Authorization = new AuthenticationHeaderValue("Bearer", elevated);
        await (await app.Client.SendAsync(admin, Ct)).AssertProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        Assert.Equal(HttpStatusCode.OK, (await GetOrdersAsync(app, token)).StatusCode);
    }

    [Fact]
    public async Task Users_with_remembered_tokens_each_buy_as_themselves()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        var show = await FlashSales.FlashSaleTests.OnAirAsync(app, stock: 20);
        var saleId = (await FlashSales.FlashSaleTests.StartSaleAsync(show.Seller, show.SessionId,
            new { productId = show.ProductId, salePriceMinor = 500, quantity = 10, perUserLimit = 1 })).GetProperty("id").GetString()!;
        var tokens = new[] { await app.TokenAsync("buyer-a", "buyer"), await app.TokenAsync("buyer-b", "buyer"), await app.TokenAsync("buyer-c", "buyer") };
        foreach (var token in tokens)
        {
            Assert.Equal(HttpStatusCode.OK, (await GetOrdersAsync(app, token)).StatusCode); // remembered from here on
        }

        // Each buyer's first tap buys (a shared entry would make the second buyer the first, at its limit); the next is refused.
        foreach (var token in tokens)
        {
            Assert.Equal(HttpStatusCode.Created, (await FlashSales.FlashSaleTests.BuyAsync(app.Client, token, saleId)).StatusCode);
            await (await FlashSales.FlashSaleTests.BuyAsync(app.Client, token, saleId)).AssertProblemAsync(HttpStatusCode.Conflict, "LIMIT_REACHED");
        }

        Assert.Equal(new[] { "buyer-a", "buyer-b", "buyer-c" },
            (await app.QueryAsync<string>("SELECT buyer_id FROM orders WHERE flash_sale_id = @saleId ORDER BY buyer_id", new { saleId })).ToArray());
    }

    [Fact]
    public void Entries_end_at_expiry_plus_skew_or_five_minutes_and_never_exceed_the_bound()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(DateTimeOffset.Parse("2026-12-01T10:00:00Z", System.Globalization.CultureInfo.InvariantCulture));
        var options = Microsoft.Extensions.Options.Options.Create(new Pasar.Server.Platform.PasarOptions { Auth = { TokenCacheEntries = 3 } });
        var cache = new ValidatedTokens(options, time);
        var principal = new System.Security.Claims.ClaimsPrincipal();
        var now = time.GetUtcNow().UtcDateTime;
        var skew = TimeSpan.FromSeconds(30);

        cache.Add("PasarKey", "expires-soon", principal, now.AddSeconds(10), skew);
        cache.Add("PasarKey", "expires-late", principal, now.AddHours(1), skew);
        cache.Add("PasarKey", "already-expired", principal, now.AddSeconds(-31), skew);
        Assert.True(cache.TryGet("PasarKey", "expires-soon", out _));
        Assert.False(cache.TryGet("Authority", "expires-soon", out _)); // checked by one scheme, not another
        Assert.False(cache.TryGet("PasarKey", "already-expired", out _));

        time.Advance(TimeSpan.FromSeconds(41)); // past exp + skew
        Assert.False(cache.TryGet("PasarKey", "expires-soon", out _));
        Assert.True(cache.TryGet("PasarKey", "expires-late", out _));
        time.Advance(ValidatedTokens.MaxAge); // checked more than five minutes ago: validated again
        Assert.False(cache.TryGet("PasarKey", "expires-late", out _));

        for (var i = 0; i < 10; i++)
        {
            cache.Add("PasarKey", $"token-{i}", principal, time.GetUtcNow().UtcDateTime.AddHours(1), skew);
            Assert.InRange(cache.Count, 1, 3);
        }

        Assert.True(cache.TryGet("PasarKey", "token-9", out _));
    }

    private static async Task<HttpResponseMessage> GetOrdersAsync(PasarApp app, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "/api/me/orders");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        return await app.Client.SendAsync(request, Ct);
    }

    private static string Mint(PasarApp app, string sub, string role, DateTime issued, DateTime expires) =>
        new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "pasar",
            Audience = "pasar",
            Claims = new Dictionary<string, object> { ["sub"] = sub, ["role"] = role },
            IssuedAt = issued,
            NotBefore = issued,
            Expires = expires,
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(app.Settings["Pasar:Auth:SigningKey"]!)), SecurityAlgorithms.HmacSha256),
        });
}
