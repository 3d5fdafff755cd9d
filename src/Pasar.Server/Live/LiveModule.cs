using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using Pasar.Rtmp;
using Pasar.Server.Platform.Http;

namespace Pasar.Server.Live;

/// <summary>Live sessions, RTMP ingest on <c>Pasar:Rtmp:Port</c>, ffmpeg transcoding to HLS, playback and replay.</summary>
internal static class LiveModule
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
        builder.Services.AddSingleton<ReplayMomentLog>();
        builder.Services.AddSingleton<IReplayMoments>(sp => sp.GetRequiredService<ReplayMomentLog>());
        builder.Services.AddSingleton<ShowNoticeSignal>();
        builder.Services.AddSingleton<ShowSchedule>();
        builder.Services.AddSingleton<ShowNoticeFanout>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ShowNoticeFanout>());
        builder.Services.AddSingleton<TranscodeCapacity>();
        builder.Services.AddSingleton<RtmpEndpoint>();
        builder.Services.AddSingleton<Platform.INonHttpListener>(sp => sp.GetRequiredService<RtmpEndpoint>());
        builder.Services.AddOptions<Storage.ObjectStorageOptions>().BindConfiguration(Storage.ObjectStorageOptions.Section)
            .Validate(o => !o.Enabled || (Uri.TryCreate(o.ServiceUrl, UriKind.Absolute, out var u) && u.Scheme is "http" or "https"),
                "Pasar:Storage:S3:ServiceUrl must be an absolute http(s) URL such as https://s3.eu-central-1.amazonaws.com, or empty.")
            .Validate(o => !o.Enabled || (o.AccessKey.Length > 0 && o.SecretKey.Length > 0),
                "Pasar:Storage:S3:AccessKey and Pasar:Storage:S3:SecretKey are required when Pasar:Storage:S3:ServiceUrl is set.")
            .Validate(o => !o.Enabled || System.Text.RegularExpressions.Regex.IsMatch(o.Bucket, "^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$"),
                "Pasar:Storage:S3:Bucket must be 3 to 63 lower-case letters, digits, '.' or '-'.")
            .Validate(o => !o.Enabled || o.Region.Length > 0, "Pasar:Storage:S3:Region must not be empty.")
            .Validate(o => o.PublicBaseUrl.Length == 0 || (Uri.TryCreate(o.PublicBaseUrl, UriKind.Absolute, out var u) && u.Scheme is "http" or "https"),
                "Pasar:Storage:S3:PublicBaseUrl must be an absolute http(s) URL (a CDN in front of the bucket), or empty.")
            .ValidateOnStart();
        builder.Services.AddSingleton<Storage.RecordingStore>();
        builder.Services.AddSingleton<Storage.RecordingUploader>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<Storage.RecordingUploader>());
        builder.Services.AddHealthChecks().AddCheck<Storage.StorageHealthCheck>("storage", tags: ["ready"]);
        builder.Services.AddOptions<Cluster.ClusterOptions>().BindConfiguration(Cluster.ClusterOptions.Section)
            .Validate(o => o.InternalUrl.Length == 0 || (Uri.TryCreate(o.InternalUrl, UriKind.Absolute, out var u) && u.Scheme is "http" or "https" && u.PathAndQuery == "/"),
                "Pasar:Cluster:InternalUrl must be an absolute http(s) base URL with no path, such as http://10.0.0.5:8080, or empty.")
            .ValidateOnStart();
        builder.Services.AddSingleton<Cluster.IngestRegistry>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<Cluster.IngestRegistry>());
        builder.Services.AddSingleton<Cluster.HlsForwarder>();
        builder.Services.AddSingleton<LiveIngest>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<LiveIngest>());

        // RTMP shares Kestrel with HTTP; Platform binds the HTTP endpoints from the URL settings (AddPlatform runs
        // first, so HTTP is bound first), and this adds the RTMP one beside them.
        builder.Services.AddOptions<KestrelServerOptions>().Configure<IOptions<RtmpListenOptions>, RtmpEndpoint>((kestrel, rtmp, endpoint) =>
        {
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
        app.MapScheduledShows();
        app.MapHls();
        return app;
    }
}
