using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.Tokens;
using Pasar.Server.Platform.Http;

namespace Pasar.Server.Platform.Auth;

public static partial class AuthModule
{
    public static IHostApplicationBuilder AddPasarAuth(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<TokenKeys>();
        builder.Services.AddSingleton<UserDirectory>();
        builder.Services.AddAuthentication(JwtBearerDefaults.AuthenticationScheme).AddJwtBearer();
        builder.Services.AddOptions<JwtBearerOptions>(JwtBearerDefaults.AuthenticationScheme)
            .Configure<TokenKeys>((o, keys) =>
            {
                o.MapInboundClaims = false;
                o.TokenValidationParameters = new TokenValidationParameters
                {
                    ValidIssuer = keys.Options.Issuer,
                    ValidAudience = keys.Options.Audience,
                    IssuerSigningKey = keys.SigningKey,
                    ValidateIssuerSigningKey = true,
                    NameClaimType = "name",
                    RoleClaimType = "role",
                    ClockSkew = TimeSpan.FromSeconds(30),
                };
                o.Events = new JwtBearerEvents
                {
                    // SignalR clients send the token in the query string on WebSocket upgrades.
                    OnMessageReceived = ctx =>
                    {
                        var token = ctx.Request.Query["access_token"];
                        if (!string.IsNullOrEmpty(token) && ctx.HttpContext.Request.Path.StartsWithSegments("/hubs", StringComparison.Ordinal))
                        {
                            ctx.Token = token;
                        }

                        return Task.CompletedTask;
                    },
                    OnTokenValidated = async ctx =>
                    {
                        var principal = ctx.Principal!;
                        var id = principal.FindFirst("sub")?.Value;
                        var role = principal.FindFirst("role")?.Value;
                        if (string.IsNullOrWhiteSpace(id) || id.Length > 64 || role is null || !Roles.All.Contains(role))
                        {
                            ctx.Fail("The token needs a 'sub' of at most 64 characters and a 'role' of buyer, seller or admin.");
                            return;
                        }

                        var users = ctx.HttpContext.RequestServices.GetRequiredService<UserDirectory>();
                        await users.EnsureAsync(new UserRecord(id, principal.FindFirst("name")?.Value ?? id, role), ctx.HttpContext.RequestAborted);
                    },
                };
            });

        builder.Services.AddAuthorizationBuilder()
            .AddPolicy(Policies.User, p => p.RequireAuthenticatedUser())
            .AddPolicy(Policies.Buyer, p => p.RequireRole(Roles.Buyer))
            .AddPolicy(Policies.Seller, p => p.RequireRole(Roles.Seller))
            .AddPolicy(Policies.Admin, p => p.RequireRole(Roles.Admin));
        return builder;
    }

    public static IEndpointRouteBuilder MapPasarAuth(this IEndpointRouteBuilder app)
    {
        var options = app.ServiceProvider.GetRequiredService<IOptions<PasarOptions>>().Value;
        if (options.Auth.DevTokens ?? options.IsEmbedded)
        {
            app.MapPost("/api/dev/tokens", IssueDevToken)
                .WithTags("Dev")
                .WithSummary("Issue a token for a demo or test user (embedded mode only)")
                .AllowAnonymous();
        }

        return app;
    }

    public sealed record DevTokenRequest(string? UserId, string? Role, string? Name);

    public sealed record DevTokenResponse(string Token);

    internal static Results<Ok<DevTokenResponse>, ValidationProblem> IssueDevToken(DevTokenRequest body, TokenKeys keys)
    {
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
