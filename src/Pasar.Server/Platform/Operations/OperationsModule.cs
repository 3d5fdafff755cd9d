using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Dapper;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using OpenTelemetry.Metrics;
using Pasar.Server.Platform.Http;
using Pasar.Server.Platform.Redis;
using Pasar.Server.Platform.Storage;
using Scalar.AspNetCore;
using IPNetwork = System.Net.IPNetwork;

namespace Pasar.Server.Platform.Operations;

/// <summary>/healthz, /readyz, /metrics, the OpenAPI document and the browsable API reference.</summary>
internal static class OperationsModule
{
    public static IHostApplicationBuilder AddOperations(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<OperationsOptions>().BindConfiguration(OperationsOptions.Section)
            .Validate(o => HttpEdgeOptions.SplitList(o.MetricsNetworks).All(n => HttpEdgeOptions.TryParseNetwork(n, out _)),
                "Pasar:Operations:MetricsNetworks must list IP addresses or CIDR networks, comma-separated.")
            .ValidateOnStart();
        builder.Services.AddSingleton<MetricsAccess>();
        builder.Services.AddSingleton<FfmpegProbe>();
        builder.Services.AddHealthChecks()
            .AddCheck<SqlHealthCheck>("sql", tags: ["ready"])
            .AddCheck<HotStoreHealthCheck>("hotstate", tags: ["ready"])
            .AddCheck<FfmpegHealthCheck>("ffmpeg", tags: ["ready"]);
        builder.Services.AddOpenTelemetry().WithMetrics(m => m
            .AddAspNetCoreInstrumentation()
            .AddMeter(PasarMetrics.MeterName)
            .AddMeter("Microsoft.AspNetCore.Server.Kestrel", "Microsoft.AspNetCore.Http.Connections", "Microsoft.AspNetCore.RateLimiting")
            .AddPrometheusExporter());
        builder.Services.AddOpenApi(o => o.AddDocumentTransformer((doc, _, _) =>
        {
            doc.Info.Title = "Pasar API";
            doc.Info.Description = "Live shopping, gamification, social shopping and social proof beside a marketplace catalog.";
            return Task.CompletedTask;
        }));
        return builder;
    }

    public static IEndpointRouteBuilder MapOperations(this IEndpointRouteBuilder app)
    {
        app.MapGet("/healthz", () => TypedResults.Text("ok")).WithTags("Operations").AllowAnonymous().ExcludeFromDescription();
        app.MapHealthChecks("/readyz", new Microsoft.AspNetCore.Diagnostics.HealthChecks.HealthCheckOptions
        {
            Predicate = c => c.Tags.Contains("ready"),
            ResponseWriter = WriteReadiness,
        }).AllowAnonymous();
        var access = app.ServiceProvider.GetRequiredService<MetricsAccess>();
        app.MapPrometheusScrapingEndpoint("/metrics", meterProvider: null, configureBranchedPipeline: branch => branch.Use(access.GuardAsync), optionsName: null)
            .AllowAnonymous();
        app.MapOpenApi("/openapi/{documentName}.json").AllowAnonymous();
        app.MapScalarApiReference("/docs", o => o.WithTitle("Pasar API").WithOpenApiRoutePattern("/openapi/{documentName}.json")).AllowAnonymous();
        return app;
    }

    private static Task WriteReadiness(HttpContext context, HealthReport report)
    {
        context.Response.ContentType = "application/json";
        var body = new
        {
            status = report.Status.ToString(),
            checks = report.Entries.ToDictionary(e => e.Key, e => new { status = e.Value.Status.ToString(), description = e.Value.Description }),
        };
        return context.Response.WriteAsync(JsonSerializer.Serialize(body, JsonSerializerOptions.Web));
    }

    // /readyz is public (SPEC §17), so it names the kind of store and never its address, port or error text
    // (which carry host names and ports); the log has those.
    private sealed class SqlHealthCheck(Database database, ILogger<SqlHealthCheck> logger) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            try
            {
                await using var c = await database.OpenAsync(cancellationToken);
                await c.ExecuteScalarAsync<int>(new CommandDefinition("SELECT 1", cancellationToken: cancellationToken));
                return HealthCheckResult.Healthy($"{database.Provider} reachable");
            }
            catch (Exception ex)
            {
                logger.LogWarning("Readiness: {Provider} unreachable: {Error}", database.Provider, ex.Message);
                return HealthCheckResult.Unhealthy($"{database.Provider} unreachable");
            }
        }
    }

    private sealed class HotStoreHealthCheck(HotStore store, ILogger<HotStoreHealthCheck> logger) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            var kind = store.IsEmbedded ? "garnet (embedded)" : "redis";
            try
            {
                var latency = await store.Database.PingAsync();
                return HealthCheckResult.Healthy($"{kind} answered in {latency.TotalMilliseconds:F1} ms");
            }
            catch (Exception ex)
            {
                logger.LogWarning("Readiness: {Store} unreachable: {Error}", store.Description, ex.Message);
                return HealthCheckResult.Unhealthy($"{kind} unreachable");
            }
        }
    }

    private sealed class FfmpegHealthCheck(FfmpegProbe probe) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            Task.FromResult(probe.Version is { } version
                ? HealthCheckResult.Healthy(version)
                : HealthCheckResult.Degraded("ffmpeg is not installed: live publishing is refused until it is (the rest of Pasar works)."));
    }
}

/// <summary>The <c>Pasar:Operations</c> section.</summary>
internal sealed class OperationsOptions
{
    public const string Section = "Pasar:Operations";

    /// <summary>Networks (CIDR or single addresses, comma-separated) that may read <c>/metrics</c> in Production; loopback always may.</summary>
    public string? MetricsNetworks { get; set; }
}

/// <summary>
/// In Production <c>/metrics</c> answers only to loopback and <c>Pasar:Operations:MetricsNetworks</c> (SPEC §17);
/// anyone else gets the same 404 as for a route that does not exist, so a scan learns nothing. Elsewhere
/// (Development, tests) it is open.
/// </summary>
internal sealed class MetricsAccess(IOptions<OperationsOptions> options, IHostEnvironment environment)
{
    private readonly IPNetwork[] _allowed =
        [.. HttpEdgeOptions.SplitList(options.Value.MetricsNetworks).Select(n => HttpEdgeOptions.TryParseNetwork(n, out var network) ? network : default)];

    public bool IsAllowed(IPAddress? address)
    {
        if (!environment.IsProduction())
        {
            return true;
        }

        if (address is null)
        {
            return false;
        }

        address = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        return IPAddress.IsLoopback(address) || _allowed.Any(n => n.Contains(address));
    }

    public Task GuardAsync(HttpContext context, RequestDelegate next) =>
        IsAllowed(context.Connection.RemoteIpAddress)
            ? next(context)
            : ApiProblem.NotFound("NOT_FOUND", "Resource").ExecuteAsync(context);
}

/// <summary>Finds ffmpeg once at start; live ingest refuses to publish without it.</summary>
internal sealed class FfmpegProbe
{
    public FfmpegProbe()
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo("ffmpeg", "-hide_banner -version")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            });
            if (process is not null)
            {
                var first = process.StandardOutput.ReadLine();
                process.WaitForExit(5000);
                Version = process.ExitCode == 0 ? first : null;
            }
        }
        catch (System.ComponentModel.Win32Exception)
        {
            Version = null;
        }
    }

    /// <summary>The first line of <c>ffmpeg -version</c>, or null when ffmpeg cannot be run.</summary>
    public string? Version { get; }
}
