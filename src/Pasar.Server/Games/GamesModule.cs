using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Pasar.Server.Games;

internal static class GamesModule
{
    public static IHostApplicationBuilder AddGames(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ShakeOptions>().BindConfiguration("Pasar:Games:Shake")
            .Validate(o => o.DailyBudget >= 0, "Pasar:Games:Shake:DailyBudget must not be negative.")
            .Validate(o => o.PlaysPerDay is >= 1 and <= 100, "Pasar:Games:Shake:PlaysPerDay must be between 1 and 100.")
            .ValidateOnStart();
        builder.Services.TryAddSingleton<IShakeRandom, CryptoShakeRandom>();
        builder.Services.AddSingleton<ShakeGate>();
        builder.Services.AddSingleton<ShakePlays>();
        return builder;
    }

    public static IEndpointRouteBuilder MapGames(this IEndpointRouteBuilder app)
    {
        app.MapShake();
        return app;
    }
}
