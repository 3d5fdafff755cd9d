using Pasar.Server.Platform;

namespace Pasar.Server.Demo;

public static class DemoModule
{
    /// <summary>Seeds the demo data through Platform's startup hook, so Platform does not know this module.</summary>
    public static IHostApplicationBuilder AddDemo(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<IStartupTask, DemoData>();
        return builder;
    }
}
