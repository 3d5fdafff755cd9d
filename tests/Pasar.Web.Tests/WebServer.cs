using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Pasar.Server;
using Pasar.Server.Live;

namespace Pasar.Web.Tests;

/// <summary>
/// A whole Pasar server in the embedded mode (SQLite + Garnet) on a loopback port, with the demo data a newcomer
/// gets, serving the built web app. Each test gets its own, so scenarios never see each other's coins or follows.
/// </summary>
public sealed class WebServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _dataDir;

    private WebServer(WebApplication app, string dataDir)
    {
        _app = app;
        _dataDir = dataDir;
        BaseAddress = new Uri(app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First());
    }

    public Uri BaseAddress { get; }

    public IServiceProvider Services => _app.Services;

    public int RtmpPort => Services.GetRequiredService<RtmpEndpoint>().Port;

    /// <param name="configure">Changes to the settings below.</param>
    /// <param name="environment">The host environment; "Development" is what <c>dotnet run</c> gives a newcomer.</param>
    public static async Task<WebServer> StartAsync(Action<Dictionary<string, string?>>? configure = null, string environment = "Testing")
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "pasar-web-" + Guid.NewGuid().ToString("N")[..10]);
        var settings = new Dictionary<string, string?>
        {
            ["Pasar:DataDir"] = dataDir,
            ["Pasar:Auth:DevTokens"] = "true",
            ["Pasar:Auth:SigningKey"] = "pasar-web-tests-signing-key-0123456789",
            ["Pasar:Demo:Seed"] = "true",
            ["Pasar:Demo:LiveShow"] = "false",
            ["Pasar:Redis:KeyPrefix"] = $"w{Guid.NewGuid():N}:",
            ["Pasar:Rtmp:Port"] = "0",
            // One client address loads the whole server here; the tests of the limits turn them back on.
            ["Pasar:RateLimits:Enabled"] = "false",
            ["Pasar:Web:Root"] = Repo.WebDist,
            ["Logging:LogLevel:Default"] = "Warning",
        };
        configure?.Invoke(settings);
        var app = PasarHost.Build(["--urls=http://127.0.0.1:0", $"--environment={environment}"],
            builder => builder.Configuration.AddInMemoryCollection(settings));
        await app.StartAsync(TestContext.Current.CancellationToken);
        return new WebServer(app, dataDir);
    }

    /// <summary>Whether the server maps a route whose pattern starts with <paramref name="prefix"/> (features land over time).</summary>
    public bool HasRoute(string prefix) =>
        Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>()
            .Any(e => (e.RoutePattern.RawText ?? "").TrimStart('/').StartsWith(prefix.TrimStart('/'), StringComparison.OrdinalIgnoreCase));

    public HttpClient NewClient() => new() { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(30) };

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
        try
        {
            Directory.Delete(_dataDir, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Paths in the repository the tests run from.</summary>
public static class Repo
{
    public static string Root { get; } = FindRoot();

    public static string Web => Path.Combine(Root, "web");

    public static string WebDist => Path.Combine(Root, "src", "Pasar.Server", "wwwroot", "dist");

    public static string Screenshots => Path.Combine(Root, "artifacts", "screenshots");

    private static string FindRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Pasar.slnx")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException("Pasar.slnx not found above " + AppContext.BaseDirectory);
    }
}
