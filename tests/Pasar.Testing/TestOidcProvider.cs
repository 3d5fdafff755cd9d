using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Pasar.Testing;

/// <summary>
/// A small OpenID Connect provider on a loopback port, standing in for the platform's identity provider (a
/// boundary Pasar does not own): a discovery document, a JWKS with one RSA key, <c>/authorize</c> that signs in
/// <see cref="NextUser"/> without a login page and redirects back with a code, and <c>/token</c> that exchanges
/// the code for RS256 tokens only with the PKCE verifier whose S256 challenge came with the code.
/// Tokens are signed by hand here, so the provider shares no token library with the code it tests.
/// </summary>
public sealed class TestOidcProvider : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly RSA _key = RSA.Create(2048);
    private readonly ConcurrentDictionary<string, Grant> _codes = new(StringComparer.Ordinal);

    private TestOidcProvider(WebApplication app, string clientId, string audience)
    {
        _app = app;
        ClientId = clientId;
        Audience = audience;
    }

    public string Authority { get; private set; } = "";

    public string ClientId { get; }

    /// <summary>The <c>aud</c> of the access tokens it issues.</summary>
    public string Audience { get; }

    public string KeyId { get; } = "test-key-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>Who <c>/authorize</c> signs in: sub, name and (null for none) role.</summary>
    public (string Sub, string Name, string? Role) NextUser { get; set; } = ("oidc-user-1", "Sari Wijaya", null);

    private int _refusedVerifiers;

    /// <summary>Token requests refused because the PKCE verifier did not match the challenge.</summary>
    public int RefusedVerifiers => Volatile.Read(ref _refusedVerifiers);

    public static async Task<TestOidcProvider> StartAsync(string clientId = "pasar-web", string audience = "pasar", CancellationToken ct = default)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        var app = builder.Build();
        var provider = new TestOidcProvider(app, clientId, audience);
        provider.Map(app);
        await app.StartAsync(ct);
        provider.Authority = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First().TrimEnd('/');
        return provider;
    }

    /// <summary>An access token as the provider would issue it; <paramref name="signWith"/> signs with another key under the same kid.</summary>
    public string IssueAccessToken(string sub, string? name = null, string? role = null, string? audience = null, RSA? signWith = null, IDictionary<string, object>? extra = null)
    {
        var claims = new Dictionary<string, object>
        {
            ["iss"] = Authority,
            ["aud"] = audience ?? Audience,
            ["sub"] = sub,
            ["client_id"] = ClientId,
            ["scope"] = "openid profile",
        };
        if (name is not null)
        {
            claims["name"] = name;
        }

        if (role is not null)
        {
            claims["role"] = role;
        }

        foreach (var (k, v) in extra ?? new Dictionary<string, object>())
        {
            claims[k] = v;
        }

        return Sign(claims, signWith ?? _key);
    }

    private string Sign(Dictionary<string, object> claims, RSA key)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        claims["iat"] = now;
        claims["nbf"] = now - 60;
        claims["exp"] = now + 3600;
        var header = Base64Url(JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, string> { ["alg"] = "RS256", ["typ"] = "JWT", ["kid"] = KeyId }));
        var payload = Base64Url(JsonSerializer.SerializeToUtf8Bytes(claims));
        var signature = key.SignData(Encoding.ASCII.GetBytes($"{header}.{payload}"), HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        return $"{header}.{payload}.{Base64Url(signature)}";
    }

    private void Map(WebApplication app)
    {
        // Browsers read discovery and post to /token from the web app's origin, as with a real provider.
        app.Use((ctx, next) =>
        {
            ctx.Response.Headers.AccessControlAllowOrigin = "*";
            return next(ctx);
        });
        app.MapGet("/.well-known/openid-configuration", () => Results.Json(new Dictionary<string, object>
        {
            ["issuer"] = Authority,
            ["authorization_endpoint"] = Authority + "/authorize",
            ["token_endpoint"] = Authority + "/token",
            ["jwks_uri"] = Authority + "/jwks",
            ["response_types_supported"] = new[] { "code" },
            ["subject_types_supported"] = new[] { "public" },
            ["id_token_signing_alg_values_supported"] = new[] { "RS256" },
            ["code_challenge_methods_supported"] = new[] { "S256" },
        }));
        app.MapGet("/jwks", () =>
        {
            var p = _key.ExportParameters(includePrivateParameters: false);
            return Results.Json(new { keys = new[] { new { kty = "RSA", use = "sig", alg = "RS256", kid = KeyId, n = Base64Url(p.Modulus!), e = Base64Url(p.Exponent!) } } });
        });
        app.MapGet("/authorize", (HttpRequest request) =>
        {
            var q = request.Query;
            if (q["response_type"] != "code" || q["client_id"] != ClientId || q["code_challenge_method"] != "S256" || string.IsNullOrEmpty(q["code_challenge"])
                || !Uri.TryCreate(q["redirect_uri"], UriKind.Absolute, out var redirect) || !redirect.IsLoopback)
            {
                return Results.BadRequest(new { error = "invalid_request" });
            }

            var code = Base64Url(RandomNumberGenerator.GetBytes(24));
            _codes[code] = new Grant(redirect.ToString(), q["code_challenge"]!, NextUser);
            var back = $"{redirect}{(redirect.Query.Length > 0 ? "&" : "?")}code={Uri.EscapeDataString(code)}&state={Uri.EscapeDataString(q["state"].ToString())}";
            return Results.Redirect(back);
        });
        app.MapPost("/token", async (HttpRequest request) =>
        {
            var form = await request.ReadFormAsync();
            if (form["grant_type"] != "authorization_code" || form["client_id"] != ClientId || !_codes.TryRemove(form["code"].ToString(), out var grant)
                || !Uri.TryCreate(form["redirect_uri"], UriKind.Absolute, out var redirect) || redirect.ToString() != grant.RedirectUri)
            {
                return Results.BadRequest(new { error = "invalid_grant" });
            }

            var challenge = Base64Url(SHA256.HashData(Encoding.ASCII.GetBytes(form["code_verifier"].ToString())));
            if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(challenge), Encoding.ASCII.GetBytes(grant.Challenge)))
            {
                Interlocked.Increment(ref _refusedVerifiers);
                return Results.BadRequest(new { error = "invalid_grant", error_description = "PKCE verifier does not match" });
            }

            var (sub, name, role) = grant.User;
            var idClaims = new Dictionary<string, object> { ["iss"] = Authority, ["aud"] = ClientId, ["sub"] = sub, ["name"] = name };
            return Results.Json(new
            {
                access_token = IssueAccessToken(sub, name, role),
                id_token = Sign(idClaims, _key),
                token_type = "Bearer",
                expires_in = 3600,
            });
        });
    }

    public static string Base64Url(byte[] bytes) => Convert.ToBase64String(bytes).TrimEnd('=').Replace('+', '-').Replace('/', '_');

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
        _key.Dispose();
    }

    private sealed record Grant(string RedirectUri, string Challenge, (string Sub, string Name, string? Role) User);
}
