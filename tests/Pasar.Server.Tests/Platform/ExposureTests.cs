using System.Net;
using System.Net.Http.Json;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Pasar.Server.Platform.Redis;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.Platform;

/// <summary>SPEC §17 and issue #12 finding 13: what a stranger on the network or on the same machine can reach.</summary>
public sealed class ExposureTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static HttpRequestMessage From(string forwardedFor, string path)
    {
        var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Add("X-Forwarded-For", forwardedFor);
        return request;
    }

    [Fact]
    public async Task The_embedded_Garnet_refuses_a_client_without_the_process_password()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        var store = app.Services.GetRequiredService<HotStore>();
        Assert.True(store.IsEmbedded);
        await store.Database.StringSetAsync("probe", "1"); // the app's own connection has the password

        var endpoint = (IPEndPoint)store.Connection.GetEndPoints()[0];
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(endpoint, Ct);
        var stream = tcp.GetStream();
        await stream.WriteAsync("*3\r\n$3\r\nSET\r\n$5\r\nprobe\r\n$1\r\n2\r\n"u8.ToArray(), Ct);
        var buffer = new byte[256];
        var read = await stream.ReadAsync(buffer, Ct);
        var reply = Encoding.ASCII.GetString(buffer, 0, read);
        Assert.StartsWith("-", reply, StringComparison.Ordinal); // an error (NOAUTH), not +OK
        Assert.Equal("1", (string?)await store.Database.StringGetAsync("probe"));
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Readiness_names_no_internal_address_or_port(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        var text = await app.Client.GetStringAsync("/readyz", Ct);
        var store = app.Services.GetRequiredService<HotStore>();
        var storePort = ((IPEndPoint)store.Connection.GetEndPoints()[0]).Port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.DoesNotContain(storePort, text, StringComparison.Ordinal);
        Assert.DoesNotContain("127.0.0.1", text, StringComparison.Ordinal);
        Assert.DoesNotContain("localhost", text, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("Healthy", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task In_Production_metrics_answer_only_loopback_and_the_configured_networks()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded, s =>
        {
            s["environment"] = "Production";
            s["Pasar:Http:ForwardedHeaders"] = "true"; // the test client is the trusted proxy in front of each visitor
            s["Pasar:Operations:MetricsNetworks"] = "10.9.0.0/16, 192.0.2.7";
        });
        Assert.Equal(HttpStatusCode.OK, (await app.Client.GetAsync("/metrics", Ct)).StatusCode); // loopback

        using var stranger = await app.Client.SendAsync(From("203.0.113.5", "/metrics"), Ct);
        await stranger.AssertProblemAsync(HttpStatusCode.NotFound, "NOT_FOUND");
        Assert.Equal(HttpStatusCode.OK, (await app.Client.SendAsync(From("10.9.4.2", "/metrics"), Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await app.Client.SendAsync(From("192.0.2.7", "/metrics"), Ct)).StatusCode);

        // What SPEC keeps public stays public.
        Assert.Equal(HttpStatusCode.OK, (await app.Client.SendAsync(From("203.0.113.5", "/openapi/v1.json"), Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await app.Client.SendAsync(From("203.0.113.5", "/docs"), Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await app.Client.SendAsync(From("203.0.113.5", "/healthz"), Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await app.Client.SendAsync(From("203.0.113.5", "/readyz"), Ct)).StatusCode);
    }

    [Fact]
    public async Task Outside_Production_metrics_stay_open()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded, s => s["Pasar:Http:ForwardedHeaders"] = "true");
        Assert.Equal(HttpStatusCode.OK, (await app.Client.SendAsync(From("203.0.113.5", "/metrics"), Ct)).StatusCode);
    }

    [Fact]
    public async Task The_page_carries_a_content_security_policy_by_route_and_by_file_name()
    {
        var root = Path.Combine(Path.GetTempPath(), "pasar-web-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(root);
        await File.WriteAllTextAsync(Path.Combine(root, "index.html"), "<!doctype html><title>Pasar</title>", Ct);
        try
        {
            await using var app = await PasarApp.StartAsync(Backend.Embedded, s => s["Pasar:Web:Root"] = root);
            foreach (var path in new[] { "/", "/p/some-product", "/index.html" })
            {
                using var page = await app.Client.GetAsync(path, Ct);
                Assert.Equal(HttpStatusCode.OK, page.StatusCode);
                var csp = string.Join(' ', page.Headers.GetValues("Content-Security-Policy"));
                Assert.Contains("frame-ancestors 'none'", csp, StringComparison.Ordinal);
                Assert.Contains("default-src 'self'", csp, StringComparison.Ordinal);
                // What the app needs: hls.js workers and media from blob:, SignalR over WebSockets.
                Assert.Contains("worker-src 'self' blob:", csp, StringComparison.Ordinal);
                Assert.Contains("media-src 'self' blob:", csp, StringComparison.Ordinal);
                Assert.Contains("connect-src 'self' ws: wss:", csp, StringComparison.Ordinal);
                Assert.Equal("nosniff", page.Headers.GetValues("X-Content-Type-Options").Single());
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    [Fact]
    public async Task API_json_and_problems_are_sent_with_nosniff()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        using var list = await app.Client.GetAsync("/api/products", Ct);
        Assert.Equal("nosniff", list.Headers.GetValues("X-Content-Type-Options").Single());
        using var missing = await app.Client.GetAsync("/api/products/nope", Ct);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Equal("nosniff", missing.Headers.GetValues("X-Content-Type-Options").Single());
    }

    [Fact]
    public async Task Problem_details_name_no_dotnet_types()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        var bodies = new[]
        {
            """{"title":"t","priceMinor":"100","currency":"SGD","stock":1}""",
            """{"title":["t"],"priceMinor":100,"currency":"SGD","stock":1}""",
            """{"title":"t",""",
            "",
        };
        var responses = new List<HttpResponseMessage>();
        foreach (var body in bodies)
        {
            responses.Add(await seller.PostAsync("/api/products", new StringContent(body, Encoding.UTF8, "application/json"), Ct));
        }

        responses.Add(await app.Client.GetAsync("/api/products?limit=abc", Ct));
        foreach (var response in responses)
        {
            var problem = await response.AssertProblemAsync(HttpStatusCode.BadRequest, "INVALID_BODY");
            var text = problem.ToString();
            foreach (var leak in new[] { "System.", "Int32", "Int64", "String", "CreateProductRequest", "Pasar.", "Microsoft." })
            {
                Assert.DoesNotContain(leak, text, StringComparison.Ordinal);
            }
        }

        var typed = await responses[0].Content.ReadFromJsonAsync<System.Text.Json.JsonElement>(Ct);
        Assert.Contains("$.priceMinor", typed.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_over_long_URI_is_414_and_over_large_headers_are_431_with_problem_bodies()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        using var longUri = await app.Client.GetAsync("/api/products?q=" + new string('a', 9000), Ct);
        await longUri.AssertProblemAsync(HttpStatusCode.RequestUriTooLong, "URI_TOO_LONG");

        using var big = new HttpRequestMessage(HttpMethod.Get, "/api/products");
        big.Headers.Add("X-Big", new string('b', 40_000));
        using var bigHeaders = await app.Client.SendAsync(big, Ct);
        await bigHeaders.AssertProblemAsync(HttpStatusCode.RequestHeaderFieldsTooLarge, "HEADERS_TOO_LARGE");

        using var many = new HttpRequestMessage(HttpMethod.Get, "/api/products");
        for (var i = 0; i < 150; i++)
        {
            many.Headers.Add($"X-H{i}", "v");
        }

        using var manyHeaders = await app.Client.SendAsync(many, Ct);
        await manyHeaders.AssertProblemAsync(HttpStatusCode.RequestHeaderFieldsTooLarge, "HEADERS_TOO_LARGE");
        Assert.Equal(HttpStatusCode.OK, (await app.Client.GetAsync("/api/products", Ct)).StatusCode);
    }
}
