using System.Net;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;
using IPNetwork = System.Net.IPNetwork;

namespace Pasar.Server.Platform.Http;

/// <summary>The <c>Pasar:Http</c> section: running behind a reverse proxy (SPEC §17).</summary>
internal sealed class HttpEdgeOptions
{
    public const string Section = "Pasar:Http";

    /// <summary>Take client address, scheme and host from X-Forwarded-For/-Proto/-Host sent by a trusted proxy.</summary>
    public bool ForwardedHeaders { get; set; }

    /// <summary>
    /// Proxies whose forwarded headers are believed: addresses and CIDR networks, comma-separated. Empty means
    /// loopback only (ASP.NET Core's default); a list replaces that default, so name a local proxy too.
    /// </summary>
    public string? TrustedProxies { get; set; }

    /// <summary>The site's public origin (<c>https://shop.example</c>) for share and RTMP URLs; empty uses the request's.</summary>
    public string? PublicBaseUrl { get; set; }

    internal Uri? ParsedPublicBaseUrl =>
        Uri.TryCreate(PublicBaseUrl?.Trim().TrimEnd('/'), UriKind.Absolute, out var uri) ? uri : null;

    internal static IEnumerable<string> SplitList(string? list) =>
        (list ?? "").Split([',', ';', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>Parses an address (<c>10.0.0.5</c>) or a network (<c>10.0.0.0/8</c>) as a network.</summary>
    internal static bool TryParseNetwork(string text, out IPNetwork network)
    {
        if (IPAddress.TryParse(text, out var address))
        {
            network = new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
            return true;
        }

        return IPNetwork.TryParse(text, out network);
    }
}

internal sealed class HttpEdgeOptionsValidator : IValidateOptions<HttpEdgeOptions>
{
    public ValidateOptionsResult Validate(string? name, HttpEdgeOptions options)
    {
        var failures = new List<string>();
        foreach (var entry in HttpEdgeOptions.SplitList(options.TrustedProxies))
        {
            if (!HttpEdgeOptions.TryParseNetwork(entry, out _))
            {
                failures.Add($"Pasar:Http:TrustedProxies: '{entry}' is neither an IP address nor a CIDR network.");
            }
        }

        if (!string.IsNullOrWhiteSpace(options.PublicBaseUrl)
            && options.ParsedPublicBaseUrl is not { Scheme: "http" or "https", AbsolutePath: "/", Query: "", UserInfo: "" })
        {
            failures.Add("Pasar:Http:PublicBaseUrl must be an http(s) origin such as https://shop.example, without a path.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>
/// The site's public origin for links Pasar hands out (share links, the RTMP ingest URL). <c>Pasar:Http:PublicBaseUrl</c>
/// when set; otherwise the request's scheme and host, which the host filter (<c>AllowedHosts</c>) and, behind a
/// trusted proxy, the forwarded headers have already vetted.
/// </summary>
internal sealed class PublicUrls(IOptions<HttpEdgeOptions> options)
{
    private readonly Uri? _base = options.Value.ParsedPublicBaseUrl;

    public bool IsConfigured => _base is not null;

    /// <summary>The origin without a trailing slash, such as <c>https://shop.example</c>.</summary>
    public string Origin(HttpRequest request) =>
        _base is { } b ? b.GetLeftPart(UriPartial.Authority) : $"{request.Scheme}://{request.Host}";

    /// <summary>The host name alone, for URLs of other protocols on the same site (RTMP).</summary>
    public string Host(HttpRequest request) => _base?.Host ?? request.Host.Host;
}

internal static class HttpEdge
{
    public static void AddHttpEdge(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<HttpEdgeOptions>().BindConfiguration(HttpEdgeOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<HttpEdgeOptions>, HttpEdgeOptionsValidator>();
        builder.Services.AddSingleton<PublicUrls>();
        builder.Services.AddOptions<ForwardedHeadersOptions>().Configure<IOptions<HttpEdgeOptions>, IConfiguration>((forwarded, edge, configuration) =>
        {
            forwarded.ForwardedHeaders = ForwardedHeaders.XForwardedFor | ForwardedHeaders.XForwardedProto | ForwardedHeaders.XForwardedHost;
            // One proxy hop: the address its X-Forwarded-For appended last is the client; anything before that
            // the client itself could have written.
            forwarded.ForwardLimit = 1;
            var trusted = HttpEdgeOptions.SplitList(edge.Value.TrustedProxies).ToList();
            if (trusted.Count > 0)
            {
                forwarded.KnownProxies.Clear();
                forwarded.KnownIPNetworks.Clear();
                foreach (var entry in trusted)
                {
                    HttpEdgeOptions.TryParseNetwork(entry, out var network);
                    forwarded.KnownIPNetworks.Add(network);
                }
            }

            // A forwarded host is held to the same AllowedHosts as a direct one.
            var allowed = HttpEdgeOptions.SplitList(configuration["AllowedHosts"]).ToList();
            if (allowed.Count > 0 && !allowed.Contains("*"))
            {
                forwarded.AllowedHosts = allowed;
            }
        });
    }

    public static void UseHttpEdge(this WebApplication app)
    {
        var edge = app.Services.GetRequiredService<IOptions<HttpEdgeOptions>>().Value;
        if (edge.ForwardedHeaders)
        {
            app.UseForwardedHeaders();
        }

        var allowed = app.Configuration["AllowedHosts"];
        if (app.Environment.IsProduction() && edge.ParsedPublicBaseUrl is null && (string.IsNullOrWhiteSpace(allowed) || allowed.Trim() == "*"))
        {
            app.Logger.LogWarning(
                "Share and RTMP URLs are built from each request's Host header: set Pasar:Http:PublicBaseUrl (or AllowedHosts) so that a forged Host cannot end up in them.");
        }
    }
}
