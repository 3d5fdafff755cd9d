using System.Net;
using System.Text;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Routing.Patterns;
using Microsoft.Extensions.DependencyInjection;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.Platform;

/// <summary>
/// Walks the app's own route table: every route must say whether it is public, and every route that is not
/// must answer 401 to a request without a token. Routes added later are covered without editing this test.
/// </summary>
public sealed class AuthorizationTableTests
{
    [Fact]
    public async Task Every_non_public_route_answers_401_without_a_token()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        var endpoints = app.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>().ToList();
        Assert.NotEmpty(endpoints);

        var undecided = new List<string>();
        var checkedRoutes = 0;
        foreach (var endpoint in endpoints)
        {
            var pattern = endpoint.RoutePattern.RawText ?? "";
            var methods = endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["GET"];
            var isPublic = endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null;
            var isProtected = endpoint.Metadata.GetOrderedMetadata<IAuthorizeData>().Count > 0;
            if (!isPublic && !isProtected)
            {
                undecided.Add($"{string.Join(",", methods)} {pattern}");
                continue;
            }

            if (isPublic)
            {
                continue;
            }

            foreach (var method in methods)
            {
                var request = new HttpRequestMessage(new HttpMethod(method), Fill(endpoint.RoutePattern));
                if (method is "POST" or "PUT" or "PATCH")
                {
                    request.Content = new StringContent("{}", Encoding.UTF8, "application/json");
                }

                var response = await app.Client.SendAsync(request, TestContext.Current.CancellationToken);
                Assert.True(response.StatusCode == HttpStatusCode.Unauthorized, $"{method} {pattern} answered {(int)response.StatusCode} without a token");
                checkedRoutes++;
            }
        }

        Assert.True(undecided.Count == 0, "Routes that neither require authorization nor allow anonymous access: " + string.Join("; ", undecided));
        Assert.True(checkedRoutes >= 4, $"Only {checkedRoutes} protected routes were found; the route table looks wrong.");
    }

    [Fact]
    public async Task A_token_with_a_bad_signature_is_refused()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        var token = await app.TokenAsync("buyer-1", "buyer");
        var tampered = token[..^4] + (token[^4] == 'A' ? "BBBB" : "AAAA");
        using var client = app.NewClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", tampered);
        var response = await client.GetAsync("/api/me/orders", TestContext.Current.CancellationToken);
        await response.AssertProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
    }

    [Fact]
    public async Task The_wrong_role_is_403()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        using var buyer = await app.ClientAsAsync("buyer-1", "buyer");
        var response = await buyer.PostAsync("/api/products", new StringContent("""{"title":"x","priceMinor":1,"currency":"SGD","stock":1}""", Encoding.UTF8, "application/json"),
            TestContext.Current.CancellationToken);
        await response.AssertProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
    }

    [Fact]
    public async Task Dev_tokens_are_404_when_turned_off()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded, s => s["Pasar:Auth:DevTokens"] = "false");
        var response = await app.Client.PostAsync("/api/dev/tokens", new StringContent("""{"userId":"u1","role":"admin"}""", Encoding.UTF8, "application/json"),
            TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task A_user_is_recorded_the_first_time_their_token_is_seen()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        using var seller = await app.ClientAsAsync("seller-new", "seller", "New Seller");
        Assert.Equal(0L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM users WHERE id = 'seller-new'"));
        await seller.GetAsync("/api/me/orders", TestContext.Current.CancellationToken);
        Assert.Equal("New Seller", await app.ScalarAsync<string>("SELECT name FROM users WHERE id = 'seller-new'"));
    }

    private static string Fill(RoutePattern pattern)
    {
        var parts = pattern.PathSegments.Select(segment => string.Concat(segment.Parts.Select(part => part switch
        {
            RoutePatternLiteralPart literal => literal.Content,
            RoutePatternParameterPart => "x",
            RoutePatternSeparatorPart separator => separator.Content,
            _ => "",
        })));
        return "/" + string.Join("/", parts);
    }
}
