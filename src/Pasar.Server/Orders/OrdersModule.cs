using Pasar.Server.Platform.Events;

namespace Pasar.Server.Orders;

internal static class OrdersModule
{
    public static IHostApplicationBuilder AddOrders(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<OrderRules>();
        builder.Services.AddSingleton<OrderPlacement>();
        builder.Services.AddSingleton<OrderStore>();
        builder.Services.AddEventHandler<PurchaseCompleted, SoldCountOnPurchase>();
        return builder;
    }

    public static IEndpointRouteBuilder MapOrders(this IEndpointRouteBuilder app)
    {
        app.MapOrdersApi();
        return app;
    }
}
