using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Pasar.Server.Platform.Http;

namespace Pasar.Server.Platform.Auth;

internal static partial class AuthModule
{
    /// <summary>The default scheme: it forwards each request to the scheme that can check its token.</summary>
    public const string BearerScheme = JwtBearerDefaults.AuthenticationScheme;

    /// <summary>Tokens signed with Pasar's own HS256 key (<c>Pasar:Auth:SigningKey</c>; dev tokens).</summary>
    public const string KeyScheme = "PasarKey";

    /// <summary>Tokens from the OpenID Connect provider at <c>Pasar:Auth:Authority</c>, checked against its JWKS.</summary>
    public const string AuthorityScheme = "Authority";

    public static IHostApplicationBuilder AddPasarAuth(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<TokenKeys>();
        builder.Services.AddSingleton<UserDirectory>();
        builder.Services.AddSingleton<ValidatedTokens>();
        builder.Services.AddSingleton<DevTokenPolicy>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<DevTokenPolicy>());

        // Two schemes behind one: a token's "alg" says which key can check it. Each scheme then checks the token
        // fully with only its own keys and issuer, so the choice routes a token and never accepts one; and a
        // provider that is down fails its own tokens, not the HS256 ones.
        builder.Services.AddAuthentication(BearerScheme)
            .AddPolicyScheme(BearerScheme, "Bearer token", o => o.ForwardDefaultSelector = ctx =>
                ctx.RequestServices.GetRequiredService<IOptions<PasarOptions>>().Value.Auth.HasAuthority && IsAsymmetric(BearerToken(ctx.Request)) ? AuthorityScheme : KeyScheme)
            .AddJwtBearer(KeyScheme)
            .AddJwtBearer(AuthorityScheme);
        builder.Services.AddOptions<JwtBearerOptions>(KeyScheme)
            .Configure<TokenKeys>((o, keys) =>
            {
                o.MapInboundClaims = false;
                o.TokenValidationParameters = new TokenValidationParameters
                {
                    ValidIssuer = keys.Options.Issuer,
                    ValidAudience = keys.Options.Audience,
                    IssuerSigningKey = keys.SigningKey,
                    ValidateIssuerSigningKey = true,
                    ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
                    NameClaimType = "name",
                    RoleClaimType = "role",
                    ClockSkew = TimeSpan.FromSeconds(30),
                };
                o.Events = Events(roleClaim: "role", defaultRole: null);
            });
        builder.Services.AddOptions<JwtBearerOptions>(AuthorityScheme)
            .Configure<IOptions<PasarOptions>>((o, pasar) =>
            {
                var auth = pasar.Value.Auth;
                if (!auth.HasAuthority)
                {
                    return;
                }

                // The handler reads the discovery document and JWKS (and refreshes them when a key rotates);
                // the issuer comes from discovery.
                o.Authority = auth.Authority;
                o.RequireHttpsMetadata = !auth.AuthorityIsLoopback;
                o.MapInboundClaims = false;
                o.TokenValidationParameters = new TokenValidationParameters
                {
                    ValidAudience = auth.Audience,
                    ValidAlgorithms =
                    [
                        SecurityAlgorithms.RsaSha256, SecurityAlgorithms.RsaSha384, SecurityAlgorithms.RsaSha512,
                        SecurityAlgorithms.EcdsaSha256, SecurityAlgorithms.EcdsaSha384, SecurityAlgorithms.EcdsaSha512,
                        SecurityAlgorithms.RsaSsaPssSha256,
                    ],
                    NameClaimType = "name",
                    RoleClaimType = "role",
                    ClockSkew = TimeSpan.FromSeconds(30),
                };
                o.Events = Events(auth.RoleClaim, defaultRole: Roles.Buyer);
            });

        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(Policies.User, p => p.RequireAuthenticatedUser())
            .AddPolicy(Policies.Buyer, p => p.RequireRole(Roles.Buyer))
            .AddPolicy(Policies.Seller, p => p.RequireRole(Roles.Seller))
            .AddPolicy(Policies.Admin, p => p.RequireRole(Roles.Admin));
        return builder;
    }

    private static JwtBearerEvents Events(string roleClaim, string? defaultRole) => new()
    {
        OnMessageReceived = ctx =>
        {
            ctx.Token = BearerToken(ctx.Request);
            // A token that validated in full moments ago is not checked again (ADR 0026): same principal, same outcome.
            if (ctx.Token is { } token && ctx.HttpContext.RequestServices.GetRequiredService<ValidatedTokens>().TryGet(ctx.Scheme.Name, token, out var principal))
            {
                ctx.Principal = principal;
                ctx.Success();
            }

            return Task.CompletedTask;
        },
        OnTokenValidated = async ctx =>
        {
            if (!TokenClaims.TryNormalize(ctx.Principal!, roleClaim, defaultRole, ctx.Scheme.Name, out var principal, out var user, out var failure))
            {
                ctx.Fail(failure!);
                return;
            }

            ctx.Principal = principal;
            var users = ctx.HttpContext.RequestServices.GetRequiredService<UserDirectory>();
            await users.EnsureAsync(user, ctx.HttpContext.RequestAborted);
            if (ctx.SecurityToken is JsonWebToken jwt)
            {
                ctx.HttpContext.RequestServices.GetRequiredService<ValidatedTokens>()
                    .Add(ctx.Scheme.Name, jwt.EncodedToken, principal, jwt.ValidTo, ctx.Options.TokenValidationParameters.ClockSkew);
            }
        },
    };

    /// <summary>The bearer token of a request: the Authorization header, or, on a hub's WebSocket upgrade, the query string.</summary>
    private static string? BearerToken(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase))
        {
            return header["Bearer ".Length..].Trim();
        }

        // SignalR clients send the token in the query string on WebSocket upgrades.
        var token = request.Query["access_token"].ToString();
        return !string.IsNullOrEmpty(token) && request.Path.StartsWithSegments("/hubs", StringComparison.Ordinal) ? token : null;
    }

    private static bool IsAsymmetric(string? token)
    {
        if (token is null || !Handler.CanReadToken(token))
        {
            return false;
        }

        try
        {
            var alg = Handler.ReadJsonWebToken(token).Alg;
            return alg is not null && !alg.StartsWith("HS", StringComparison.OrdinalIgnoreCase) && !string.Equals(alg, "none", StringComparison.OrdinalIgnoreCase);
        }
        catch (SecurityTokenMalformedException)
        {
            return false;
        }
    }

    private static readonly JsonWebTokenHandler Handler = new();

    public static IEndpointRouteBuilder MapPasarAuth(this IEndpointRouteBuilder app)
    {
        var policy = app.ServiceProvider.GetRequiredService<DevTokenPolicy>();
        if (policy.Mapped)
        {
            app.MapPost("/api/dev/tokens", IssueDevToken)
                .WithTags("Dev")
                .WithSummary("Issue a token for a demo or test user (only while dev tokens are on)")
                .AllowAnonymous();
        }

        app.MapGet("/api/auth/config", Config)
            .WithTags("Auth")
            .WithSummary("How the web app signs in: dev tokens, or the OpenID Connect provider and client id")
            .AllowAnonymous();
        return app;
    }

    public sealed record AuthConfig(bool DevTokens, string? Authority, string? ClientId, string? Scope, string RoleClaim);

    internal static Ok<AuthConfig> Config(HttpContext context, DevTokenPolicy devTokens, IOptions<PasarOptions> options)
    {
        var auth = options.Value.Auth;
        return TypedResults.Ok(auth.HasAuthority
            ? new AuthConfig(devTokens.Allows(context), auth.Authority!.TrimEnd('/'), auth.ClientId, auth.Scope, auth.RoleClaim)
            : new AuthConfig(devTokens.Allows(context), null, null, null, auth.RoleClaim));
    }

    public sealed record DevTokenRequest(string? UserId, string? Role, string? Name);

    public sealed record DevTokenResponse(string Token);

    internal static Results<Ok<DevTokenResponse>, ValidationProblem, ProblemHttpResult> IssueDevToken(DevTokenRequest body, TokenKeys keys, DevTokenPolicy policy, HttpContext context)
    {
        if (!policy.Allows(context))
        {
            // The same answer as a route that is not mapped, so a probe learns nothing.
            return ApiProblem.NotFound("NOT_FOUND", "Resource");
        }

        var v = new RequestValidator();
        v.Text("userId", body.UserId, 1, 64);
        if (body.UserId is not null && !UserIdPattern().IsMatch(body.UserId))
        {
            v.Add("userId", "userId may contain letters, digits, '-', '_' and '.' only.");
        }

        if (body.Role is null || !Roles.All.Contains(body.Role))
        {
            v.Add("role", "role must be buyer, seller or admin.");
        }

        v.Text("name", body.Name, 1, 80, required: false);
        if (!v.IsValid)
        {
            return ApiProblem.Validation(v.Errors);
        }

        return TypedResults.Ok(new DevTokenResponse(keys.Issue(body.UserId!, body.Role!, body.Name?.Trim())));
    }

    [GeneratedRegex("^[A-Za-z0-9._-]+$")]
    private static partial Regex UserIdPattern();
}
