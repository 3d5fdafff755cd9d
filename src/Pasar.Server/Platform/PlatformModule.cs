using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using Pasar.Server.Platform.Auth;
using Pasar.Server.Platform.Events;
using Pasar.Server.Platform.Http;
using Pasar.Server.Platform.Operations;
using Pasar.Server.Platform.Redis;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Platform;

/// <summary>Storage, hot state, events, auth, HTTP conventions and operations: what every module stands on.</summary>
internal static class PlatformModule
{
    public static IHostApplicationBuilder AddPlatform(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<PasarOptions>().BindConfiguration(PasarOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<PasarOptions>, PasarOptionsValidator>();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<PasarMetrics>();
        builder.Services.AddSingleton<RegionClock>();
        builder.Services.AddSingleton<Database>();
        builder.Services.AddHotStore();
        builder.Services.AddSingleton<OutboxSignal>();
        builder.Services.AddSingleton<Outbox>();
        builder.Services.AddSingleton<EventHandlerRegistry>();
        builder.Services.AddSingleton<IdempotencyStore>();
        builder.Services.AddOptions<OutboxOptions>().BindConfiguration(OutboxOptions.Section)
            .Validate(o => o.Lease >= TimeSpan.FromSeconds(1) && o.Lease <= TimeSpan.FromMinutes(10), "Pasar:Outbox:Lease must be between 00:00:01 and 00:10:00.")
            .Validate(o => o.MaxAttempts >= 1, "Pasar:Outbox:MaxAttempts must be at least 1.")
            .Validate(o => o.MaxBackoff >= TimeSpan.FromSeconds(1), "Pasar:Outbox:MaxBackoff must be at least 00:00:01.")
            .ValidateOnStart();
        builder.Services.AddOptions<RetentionOptions>().BindConfiguration(RetentionOptions.Section)
            .Validate(o => o.OutboxDays >= 1, "Pasar:Retention:OutboxDays must be at least 1.")
            .Validate(o => o.IdempotencyKeyDays >= 1, "Pasar:Retention:IdempotencyKeyDays must be at least 1.")
            .Validate(o => o.ShareClickDays >= 1, "Pasar:Retention:ShareClickDays must be at least 1 (a click counts once per visitor per 24 h).")
            .Validate(o => o.Every >= TimeSpan.FromMinutes(1), "Pasar:Retention:Every must be at least 00:01:00.")
            .ValidateOnStart();
        builder.Services.AddSingleton<IRetentionTask, PlatformRetention>();
        // Registered before the dispatcher so that migrations have run when it starts.
        builder.Services.AddHostedService<StartupTasks>();
        builder.Services.AddHostedService<OutboxDispatcher>();
        builder.Services.AddSingleton<RetentionJob>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<RetentionJob>());
        builder.AddPasarHttp();
        builder.AddPasarAuth();
        builder.AddOperations();
        return builder;
    }

    public static WebApplication UsePlatform(this WebApplication app)
    {
        app.UsePasarHttp();
        app.UseAuthentication();
        // After authentication, so that a signed-in user has a bucket of their own, whatever address they share.
        app.UsePasarRateLimits();
        app.UseAuthorization();
        return app;
    }

    public static IEndpointRouteBuilder MapPlatform(this IEndpointRouteBuilder app)
    {
        app.MapOperations();
        app.MapPasarAuth();
        return app;
    }
}
