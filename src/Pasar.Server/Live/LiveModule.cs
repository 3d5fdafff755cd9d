using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using Pasar.Rtmp;

namespace Pasar.Server.Live;

/// <summary>Live sessions, RTMP ingest on <c>Pasar:Rtmp:Port</c>, ffmpeg transcoding to HLS, playback and replay.</summary>
public static class LiveModule
{
    public static IHostApplicationBuilder AddLive(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<LiveOptions>().BindConfiguration(LiveOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<LiveOptions>, LiveOptionsValidator>();
        builder.Services.AddOptions<RtmpListenOptions>().BindConfiguration(RtmpListenOptions.Section)
            .Validate(o => o.Port is >= 0 and <= 65535, "Pasar:Rtmp:Port must be between 0 and 65535.")
            .Validate(o => IPAddress.TryParse(o.Address, out _), "Pasar:Rtmp:Address must be an IP address such as 0.0.0.0, 127.0.0.1 or ::.")
            .ValidateOnStart();
        builder.Services.AddOptions<RtmpServerOptions>().BindConfiguration(RtmpListenOptions.Section)
            .Validate(o =>
            {
                try
                {
                    o.Validate();
                    return true;
                }
                catch (ArgumentOutOfRangeException)
                {
                    return false;
                }
            }, "A Pasar:Rtmp limit is out of range (see RtmpServerOptions).")
            .ValidateOnStart();
        builder.Services.AddRtmpLimits();
        builder.Services.AddSingleton<LiveMetrics>();
        builder.Services.AddSingleton<LiveSessionStore>();
        builder.Services.AddSingleton<TranscodeCapacity>();
        builder.Services.AddSingleton<RtmpEndpoint>();
        builder.Services.AddSingleton<Platform.INonHttpListener>(sp => sp.GetRequiredService<RtmpEndpoint>());
        builder.Services.AddSingleton<LiveIngest>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<LiveIngest>());

        // RTMP shares Kestrel with HTTP. An endpoint added in code makes Kestrel ignore the configured URLs, so the
        // HTTP endpoints are bound here from the same settings (--urls, ASPNETCORE_URLS, ASPNETCORE_HTTP_PORTS),
        // HTTP first; Kestrel:Endpoints, when present, Kestrel binds itself beside the code endpoints.
        builder.Services.AddOptions<KestrelServerOptions>().Configure<IConfiguration, IOptions<RtmpListenOptions>, RtmpEndpoint>((kestrel, configuration, rtmp, endpoint) =>
        {
            KestrelUrls.ListenOnConfiguredUrls(kestrel, configuration);
            endpoint.ConfiguredPort = rtmp.Value.Port;
            kestrel.Listen(rtmp.Value.ParsedAddress, rtmp.Value.Port, listen =>
            {
                listen.UseConnectionHandler<RtmpIngestConnectionHandler>();
                endpoint.Bound(listen);
            });
        });
        return builder;
    }

    public static IEndpointRouteBuilder MapLive(this IEndpointRouteBuilder app)
    {
        app.MapLiveSessions();
        app.MapHls();
        return app;
    }
}

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
