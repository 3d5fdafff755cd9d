namespace Pasar.Server.Catalog;

internal static class CatalogModule
{
    public static IHostApplicationBuilder AddCatalog(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<ProductStore>();
        builder.Services.AddSingleton<ICatalogStock>(sp => sp.GetRequiredService<ProductStore>());
        return builder;
    }

    public static IEndpointRouteBuilder MapCatalog(this IEndpointRouteBuilder app)
    {
        app.MapProducts();
        return app;
    }
}
