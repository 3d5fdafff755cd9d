using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Pasar.Server.Live;
using Pasar.Server.Platform.Http;
using Pasar.Server.Tests.Infrastructure;
using Pasar.Testing;

namespace Pasar.Server.Tests.Platform;

/// <summary>SPEC §17: the standard ASP.NET Core ways of choosing an address work, and RTMP binds where it is told.</summary>
public sealed class AddressesTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<Dictionary<string, string?>> EmbeddedSettingsAsync() =>
        await PasarApp.SettingsForAsync(Backend.Embedded, Path.Combine(Path.GetTempPath(), "pasar-addr-" + Guid.NewGuid().ToString("N")[..10]));

    [Fact]
    public async Task A_server_started_with_only_ASPNETCORE_URLS_listens_there()
    {
        var port = LocalServers.FreePort();
        await using var server = await ServerProcess.StartWithEnvironmentAsync(await EmbeddedSettingsAsync(), new Uri($"http://127.0.0.1:{port}"),
            new Dictionary<string, string?> { ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}" });
        using var client = server.NewClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/products", Ct)).StatusCode);
    }

    [Fact]
    public async Task A_server_started_with_only_ASPNETCORE_HTTP_PORTS_listens_there()
    {
        var port = LocalServers.FreePort();
        await using var server = await ServerProcess.StartWithEnvironmentAsync(await EmbeddedSettingsAsync(), new Uri($"http://127.0.0.1:{port}"),
            new Dictionary<string, string?> { ["ASPNETCORE_HTTP_PORTS"] = port.ToString(CultureInfo.InvariantCulture) });
        using var client = server.NewClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/products", Ct)).StatusCode);
    }

    [Fact]
    public async Task A_server_configured_with_Kestrel_Endpoints_listens_there()
    {
        var port = LocalServers.FreePort();
        await using var server = await ServerProcess.StartWithEnvironmentAsync(await EmbeddedSettingsAsync(), new Uri($"http://127.0.0.1:{port}"),
            new Dictionary<string, string?> { ["Kestrel__Endpoints__Web__Url"] = $"http://127.0.0.1:{port}" });
        using var client = server.NewClient();
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/products", Ct)).StatusCode);
    }

    [Theory]
    [InlineData(null, null, null, "http://localhost:5080")]
    [InlineData("http://0.0.0.0:8080", null, null, "http://0.0.0.0:8080")]
    [InlineData(null, "8080;8081", null, "http://*:8080 http://*:8081")]
    [InlineData("http://127.0.0.1:9000", "8080", null, "http://127.0.0.1:9000")] // urls win over ports, as in ASP.NET Core
    [InlineData("http://127.0.0.1:9000", null, "http://127.0.0.1:9001", "")] // Kestrel binds its own endpoints
    public void The_addresses_resolve_as_ASP_NET_Core_resolves_them(string? urls, string? httpPorts, string? kestrelEndpoint, string expected)
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["urls"] = urls,
            ["http_ports"] = httpPorts,
            ["Kestrel:Endpoints:Web:Url"] = kestrelEndpoint,
        }.Where(kv => kv.Value is not null)).Build();
        Assert.Equal(expected, string.Join(' ', KestrelUrls.Resolve(configuration)));
    }

    [Fact]
    public void The_shipped_settings_name_no_address_so_the_environment_decides()
    {
        var root = new DirectoryInfo(AppContext.BaseDirectory);
        while (!File.Exists(Path.Combine(root.FullName, "Pasar.slnx")))
        {
            root = root.Parent!;
        }

        var configuration = new ConfigurationBuilder().AddJsonFile(Path.Combine(root.FullName, "src", "Pasar.Server", "appsettings.json")).Build();
        Assert.Null(configuration["Urls"]);
        Assert.Equal(["http://localhost:5080"], KestrelUrls.Resolve(configuration));
    }

    [Fact]
    public async Task RTMP_binds_to_Pasar_Rtmp_Address()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded, s => s["Pasar:Rtmp:Address"] = "127.0.0.1");
        var bound = app.Services.GetRequiredService<RtmpEndpoint>().BoundEndPoint;
        Assert.NotNull(bound);
        Assert.Equal(IPAddress.Loopback, bound.Address);
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, bound.Port, Ct);

        // What the kernel holds: a listening socket on 127.0.0.1 for that port, none on 0.0.0.0.
        var listening = ListeningSockets(bound.Port);
        Assert.Contains("0100007F", listening);
        Assert.DoesNotContain("00000000", listening);
    }

    [Fact]
    public async Task A_bad_RTMP_address_fails_the_start_with_its_name()
    {
        var ex = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() =>
            PasarApp.StartAsync(Backend.Embedded, s => s["Pasar:Rtmp:Address"] = "everywhere"));
        Assert.Contains("Pasar:Rtmp:Address", ex.Message, StringComparison.Ordinal);
    }

    /// <summary>The local addresses (hex, as /proc/net/tcp writes them) of the sockets listening on <paramref name="port"/>.</summary>
    private static List<string> ListeningSockets(int port)
    {
        var hexPort = port.ToString("X4", CultureInfo.InvariantCulture);
        return [.. File.ReadLines("/proc/net/tcp").Skip(1)
            .Select(line => line.Split(' ', StringSplitOptions.RemoveEmptyEntries))
            .Where(f => f[1].EndsWith(":" + hexPort, StringComparison.Ordinal) && f[3] == "0A") // 0A = LISTEN
            .Select(f => f[1].Split(':')[0])];
    }
}
