using Pasar.Server.Orders;
using Pasar.Server.Platform.Events;

namespace Pasar.Server.Catalog;

public static class CatalogModule
{
    public static IHostApplicationBuilder AddCatalog(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ProductStore>();
        builder.Services.AddSingleton<ICatalogStock>(sp => sp.GetRequiredService<ProductStore>());
        builder.Services.AddEventHandler<PurchaseCompleted, SoldCountOnPurchase>();
        return builder;
    }

    public static IEndpointRouteBuilder MapCatalog(this IEndpointRouteBuilder app)
    {
        app.MapProducts();
        return app;
    }
}
