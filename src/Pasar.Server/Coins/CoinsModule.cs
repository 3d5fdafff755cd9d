using Pasar.Server.Orders;

namespace Pasar.Server.Coins;

public static class CoinsModule
{
    public static IHostApplicationBuilder AddCoins(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<CoinLedger>();
        builder.Services.AddSingleton<ICoinRedemption>(sp => sp.GetRequiredService<CoinLedger>());
        return builder;
    }

    public static IEndpointRouteBuilder MapCoins(this IEndpointRouteBuilder app)
    {
        app.MapCoinsApi();
        return app;
    }
}
