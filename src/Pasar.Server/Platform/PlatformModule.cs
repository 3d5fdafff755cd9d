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
public static class PlatformModule
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
        // Registered before the dispatcher so that migrations have run when it starts.
        builder.Services.AddHostedService<StartupTasks>();
        builder.Services.AddHostedService<OutboxDispatcher>();
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
        app.MapOperations();
        app.MapPasarAuth();
        return app;
    }
}
