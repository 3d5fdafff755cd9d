using Pasar.Server.LiveRoom;

namespace Pasar.Server.FlashSales;

internal static class FlashSalesModule
{
    public static IHostApplicationBuilder AddFlashSales(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<FlashSaleOptions>().BindConfiguration("Pasar:FlashSales");
        builder.Services.AddSingleton<FlashSaleGate>();
        builder.Services.AddHostedService<FlashSaleGateRepair>();
        builder.Services.AddSingleton<FlashSaleService>();
        builder.Services.AddHostedService<FlashSaleTicker>();
        builder.Services.AddSingleton<IActiveFlashSaleLookup, ActiveFlashSaleLookup>();
        builder.Services.AddRoomMessages((broadcaster, _) =>
        {
            broadcaster.Register<FlashSale>("flashSaleStarted");
            broadcaster.Register<FlashSaleUpdated>("flashSaleUpdated");
            broadcaster.Register<FlashSaleEnded>("flashSaleEnded");
        });
        return builder;
    }

    public static IEndpointRouteBuilder MapFlashSales(this IEndpointRouteBuilder app)
    {
        app.MapFlashSalesApi();
        return app;
    }
}

internal sealed class ActiveFlashSaleLookup(FlashSaleService sales) : IActiveFlashSaleLookup
{
    public async Task<object?> ActiveForSessionAsync(string sessionId, CancellationToken ct) => await sales.ActiveForSessionAsync(sessionId, ct);
}
