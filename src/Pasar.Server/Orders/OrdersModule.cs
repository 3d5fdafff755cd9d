namespace Pasar.Server.Orders;

public static class OrdersModule
{
    public static IHostApplicationBuilder AddOrders(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<OrderRules>().BindConfiguration("Pasar:Coins")
            .Validate(r => r.MaxRedeemPercent is >= 0 and <= 100, "Pasar:Coins:MaxRedeemPercent must be between 0 and 100.")
            .ValidateOnStart();
        builder.Services.AddSingleton<OrderPlacement>();
        return builder;
    }

    public static IEndpointRouteBuilder MapOrders(this IEndpointRouteBuilder app)
    {
        app.MapOrdersApi();
        return app;
    }
}
