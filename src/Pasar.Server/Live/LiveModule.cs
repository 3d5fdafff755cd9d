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
        builder.Services.AddSingleton<LiveIngest>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<LiveIngest>());

        // RTMP shares Kestrel with HTTP. An endpoint added in code makes Kestrel ignore the configured URLs, so the
        // HTTP endpoints are bound here from the same settings (--urls, ASPNETCORE_URLS, Urls), HTTP first.
        builder.Services.AddOptions<KestrelServerOptions>().Configure<IConfiguration, IOptions<RtmpListenOptions>, RtmpEndpoint>((kestrel, configuration, rtmp, endpoint) =>
        {
            KestrelUrls.ListenOnConfiguredUrls(kestrel, configuration);
            endpoint.ConfiguredPort = rtmp.Value.Port;
            kestrel.Listen(IPAddress.Any, rtmp.Value.Port, listen =>
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
    public static void ListenOnConfiguredUrls(KestrelServerOptions kestrel, IConfiguration configuration)
    {
        var urls = configuration["urls"];
        if (string.IsNullOrWhiteSpace(urls))
        {
            var ports = configuration["http_ports"];
            urls = string.IsNullOrWhiteSpace(ports)
                ? "http://localhost:5000"
                : string.Join(';', ports.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(p => $"http://*:{p}"));
        }

        foreach (var url in urls.Split(';', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
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
}
