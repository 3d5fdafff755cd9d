using System.Net;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace Pasar.Server.Platform.Http;

/// <summary>Binds Kestrel's HTTP endpoints from the URL settings, as Kestrel would when no endpoint is added in code.</summary>
internal static class KestrelUrls
{
    /// <summary>Where Pasar listens when no setting says otherwise (SPEC §17): this machine only.</summary>
    public const string DefaultUrl = "http://localhost:5080";

    /// <summary>
    /// The URLs to bind, by ASP.NET Core's own precedence: <c>urls</c> (<c>--urls</c>, <c>ASPNETCORE_URLS</c>),
    /// then <c>http_ports</c>/<c>https_ports</c> (<c>ASPNETCORE_HTTP_PORTS</c>, as container images set), then the
    /// default. Empty when <c>Kestrel:Endpoints</c> is configured: Kestrel binds those itself and ignores URLs.
    /// </summary>
    public static IReadOnlyList<string> Resolve(IConfiguration configuration)
    {
        if (configuration.GetSection("Kestrel:Endpoints").GetChildren().Any())
        {
            return [];
        }

        if (configuration["urls"] is { } urls && !string.IsNullOrWhiteSpace(urls))
        {
            return Split(urls);
        }

        var ports = Split(configuration["http_ports"]).Select(p => $"http://*:{p}")
            .Concat(Split(configuration["https_ports"]).Select(p => $"https://*:{p}"))
            .ToList();
        return ports.Count > 0 ? ports : [DefaultUrl];
    }

    public static void ListenOnConfiguredUrls(KestrelServerOptions kestrel, IConfiguration configuration)
    {
        foreach (var url in Resolve(configuration))
        {
            var address = Microsoft.AspNetCore.Http.BindingAddress.Parse(url);
            Action<ListenOptions> configure = address.Scheme == "https" ? l => l.UseHttps() : _ => { };
            if (address.IsUnixPipe)
            {
                kestrel.ListenUnixSocket(address.UnixPipePath, configure);
            }
            else if (string.Equals(address.Host, "localhost", StringComparison.OrdinalIgnoreCase))
            {
                if (address.Port == 0)
                {
                    kestrel.Listen(IPAddress.Loopback, 0, configure);
                }
                else
                {
                    kestrel.ListenLocalhost(address.Port, configure);
                }
            }
            else if (IPAddress.TryParse(address.Host.Trim('[', ']'), out var ip))
            {
                kestrel.Listen(ip, address.Port, configure);
            }
            else
            {
                kestrel.ListenAnyIP(address.Port, configure); // "*", "+" or a host name: every interface, as Kestrel does
            }
        }
    }

    private static string[] Split(string? list) =>
        (list ?? "").Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
}
