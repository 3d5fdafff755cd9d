using Pasar.Server.LiveRoom;
using Pasar.Server.Orders;
using Pasar.Server.Platform.Events;

namespace Pasar.Server.Proof;

/// <summary>Social proof: recent buyers and low stock, on a product page and pushed to the rooms showing the product.</summary>
internal static class ProofModule
{
    public static IHostApplicationBuilder AddProof(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ProofOptions>().BindConfiguration("Pasar:Proof")
            .Validate(o => o.MinBuyersShown >= 1, "Pasar:Proof:MinBuyersShown must be at least 1.")
            .Validate(o => o.LowStockThreshold >= 1, "Pasar:Proof:LowStockThreshold must be at least 1.")
            .ValidateOnStart();
        builder.Services.AddSingleton<SocialProof>();
        builder.Services.AddSingleton<ProofPusher>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ProofPusher>());
        builder.Services.AddEventHandler<PurchaseCompleted, ProofOnPurchase>();
        builder.Services.AddRoomMessages((broadcaster, _) =>
        {
            broadcaster.Register<PurchaseSignal>("purchaseSignal");
            broadcaster.Register<LowStockSignal>("lowStock");
        });
        return builder;
    }

    public static IEndpointRouteBuilder MapProof(this IEndpointRouteBuilder app)
    {
        app.MapProofApi();
        return app;
    }
}
