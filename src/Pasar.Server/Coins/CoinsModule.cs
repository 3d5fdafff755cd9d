namespace Pasar.Server.Coins;

internal static class CoinsModule
{
    public static IHostApplicationBuilder AddCoins(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<CoinOptions>().BindConfiguration("Pasar:Coins")
            .Validate(r => r.MaxRedeemPercent is >= 0 and <= 100, "Pasar:Coins:MaxRedeemPercent must be between 0 and 100.")
            .ValidateOnStart();
        builder.Services.AddSingleton<CoinLedger>();
        builder.Services.AddSingleton<CheckIns>();
        builder.Services.AddSingleton<ICoinRedemption>(sp => sp.GetRequiredService<CoinLedger>());
        return builder;
    }

    public static IEndpointRouteBuilder MapCoins(this IEndpointRouteBuilder app)
    {
        app.MapCoinsApi();
        return app;
    }
}
