using Pasar.Server.Platform;

namespace Pasar.Server.Demo;

/// <summary>
/// Demo sellers, buyers and products for a newcomer's embedded server (<c>Pasar:Demo</c>). The module has the
/// same shape as every other; it maps no routes of its own (the dev-token sign-in that picks demo users is Platform's).
/// </summary>
internal static class DemoModule
{
    /// <summary>Seeds the demo data through Platform's startup hook, so Platform does not know this module.</summary>
    public static IHostApplicationBuilder AddDemo(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<IStartupTask, DemoData>();
        builder.Services.AddHostedService<DemoShow>();
        return builder;
    }

    public static IEndpointRouteBuilder MapDemo(this IEndpointRouteBuilder app) => app;
}
