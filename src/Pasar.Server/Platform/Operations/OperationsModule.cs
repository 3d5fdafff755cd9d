using System.Diagnostics;
using System.Text.Json;
using Dapper;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using OpenTelemetry.Metrics;
using Pasar.Server.Platform.Redis;
using Pasar.Server.Platform.Storage;
using Scalar.AspNetCore;

namespace Pasar.Server.Platform.Operations;

/// <summary>/healthz, /readyz, /metrics, the OpenAPI document and the browsable API reference.</summary>
public static class OperationsModule
{
    public static IHostApplicationBuilder AddOperations(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<FfmpegProbe>();
        builder.Services.AddHealthChecks()
            .AddCheck<SqlHealthCheck>("sql", tags: ["ready"])
            .AddCheck<HotStoreHealthCheck>("hotstate", tags: ["ready"])
            .AddCheck<FfmpegHealthCheck>("ffmpeg", tags: ["ready"]);
        builder.Services.AddOpenTelemetry().WithMetrics(m => m
            .AddAspNetCoreInstrumentation()
            .AddMeter(PasarMetrics.MeterName)
            .AddMeter("Microsoft.AspNetCore.Server.Kestrel", "Microsoft.AspNetCore.Http.Connections")
            .AddPrometheusExporter());
        builder.Services.AddOpenApi(o => o.AddDocumentTransformer((doc, _, _) =>
        {
            doc.Info.Title = "Pasar API";
            doc.Info.Description = "Live shopping, gamification, social shopping and social proof beside a marketplace catalog.";
            return Task.CompletedTask;
        }));
        return builder;
    }

    public static WebApplication MapOperations(this WebApplication app)
    {
        app.MapGet("/healthz", () => TypedResults.Text("ok")).WithTags("Operations").AllowAnonymous().ExcludeFromDescription();
        app.MapHealthChecks("/readyz", new Microsoft.AspNetCore.Diagnostics.HealthChecks.HealthCheckOptions
        {
            Predicate = c => c.Tags.Contains("ready"),
            ResponseWriter = WriteReadiness,
        }).AllowAnonymous();
        app.MapPrometheusScrapingEndpoint("/metrics").AllowAnonymous();
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

    private sealed class SqlHealthCheck(Database database) : IHealthCheck
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
                return HealthCheckResult.Unhealthy($"{database.Provider} unreachable: {ex.Message}");
            }
        }
    }

    private sealed class HotStoreHealthCheck(HotStore store) : IHealthCheck
    {
        public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
        {
            try
            {
                var latency = await store.Database.PingAsync();
                return HealthCheckResult.Healthy($"{store.Description} answered in {latency.TotalMilliseconds:F1} ms");
            }
            catch (Exception ex)
            {
                return HealthCheckResult.Unhealthy($"{store.Description} unreachable: {ex.Message}");
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

/// <summary>Finds ffmpeg once at start; live ingest refuses to publish without it.</summary>
public sealed class FfmpegProbe
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
