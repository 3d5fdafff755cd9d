using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace Pasar.Server.Analytics;

/// <summary>
/// Viewer analytics on ClickHouse (SPEC §13, ADR 0018): other modules hand events to <see cref="IAnalyticsRecorder"/>;
/// they are spooled in SQL and sent in batches by <see cref="AnalyticsSink"/>; <see cref="ISessionAnalytics"/>
/// answers from ClickHouse. With <c>Pasar:Analytics:ClickHouse:Url</c> empty nothing of this runs.
/// </summary>
internal static class AnalyticsModule
{
    public static IHostApplicationBuilder AddAnalytics(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<AnalyticsOptions>().BindConfiguration(AnalyticsOptions.Section)
            .Validate(o => !o.Enabled || (Uri.TryCreate(o.ClickHouse.Url, UriKind.Absolute, out var u) && u.Scheme is "http" or "https"),
                "Pasar:Analytics:ClickHouse:Url must be an absolute http(s) URL such as http://127.0.0.1:8123, or empty.")
            .Validate(o => ClickHouseHttp.IsIdentifier(o.ClickHouse.Database), "Pasar:Analytics:ClickHouse:Database must be letters, digits and '_', not starting with a digit.")
            .Validate(o => o.SpoolCapacity >= 1_000, "Pasar:Analytics:SpoolCapacity must be at least 1000.")
            .Validate(o => o.BatchSize is >= 1 and <= AnalyticsSink.MaxRows, "Pasar:Analytics:BatchSize must be between 1 and 10000.")
            .Validate(o => o.FlushInterval >= TimeSpan.FromMilliseconds(50) && o.FlushInterval <= TimeSpan.FromMinutes(1), "Pasar:Analytics:FlushInterval must be between 00:00:00.05 and 00:01:00.")
            .Validate(o => o.Lease >= TimeSpan.FromSeconds(1), "Pasar:Analytics:Lease must be at least 00:00:01.")
            .Validate(o => o.RetentionMonths >= 0, "Pasar:Analytics:RetentionMonths must be 0 (keep all) or more.")
            .ValidateOnStart();
        builder.Services.AddSingleton<SpoolBacklog>();
        builder.Services.AddSingleton<AnalyticsSinkState>();
        builder.Services.AddSingleton<AnalyticsMetrics>();
        builder.Services.AddHealthChecks().AddCheck<AnalyticsHealthCheck>("analytics", tags: ["ready"]);
        var enabled = !string.IsNullOrWhiteSpace(builder.Configuration[$"{AnalyticsOptions.Section}:ClickHouse:Url"]);
        if (!enabled)
        {
            builder.Services.AddSingleton<SqlOnlyAnalytics>();
            builder.Services.AddSingleton<IAnalyticsRecorder>(sp => sp.GetRequiredService<SqlOnlyAnalytics>());
            builder.Services.AddSingleton<ISessionAnalytics>(sp => sp.GetRequiredService<SqlOnlyAnalytics>());
            return builder;
        }

        builder.Services.AddSingleton(sp => new ClickHouseHttp(sp.GetRequiredService<IOptions<AnalyticsOptions>>().Value.ClickHouse));
        builder.Services.AddSingleton<AnalyticsSpool>();
        builder.Services.AddSingleton<IAnalyticsRecorder>(sp => sp.GetRequiredService<AnalyticsSpool>());
        builder.Services.AddHostedService(sp => sp.GetRequiredService<AnalyticsSpool>());
        builder.Services.AddSingleton<AnalyticsSink>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<AnalyticsSink>());
        builder.Services.AddSingleton<ISessionAnalytics, ClickHouseSessionAnalytics>();
        return builder;
    }
}

/// <summary>
/// <c>/readyz</c> entry: where analytics go and whether ClickHouse takes them. A ClickHouse problem is Degraded,
/// not Unhealthy: events wait in the spool and the rest of Pasar works. Names the setting, never the address.
/// </summary>
internal sealed class AnalyticsHealthCheck(IOptions<AnalyticsOptions> options, AnalyticsSinkState state, SpoolBacklog backlog) : IHealthCheck
{
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
        Task.FromResult(!options.Value.Enabled
            ? HealthCheckResult.Healthy("sql (Pasar:Analytics:ClickHouse:Url is empty)")
            : state.Status switch
            {
                SinkStatus.Delivering => HealthCheckResult.Healthy($"clickhouse takes events; {backlog.Rows} spooled"),
                SinkStatus.Starting => HealthCheckResult.Degraded($"clickhouse not reached yet; {backlog.Rows} spooled"),
                _ => HealthCheckResult.Degraded($"{state.Error}; {backlog.Rows} events spooled, sent when it works again"),
            });
}
