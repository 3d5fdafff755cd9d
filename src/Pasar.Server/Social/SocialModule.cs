using Pasar.Server.Catalog;
using Pasar.Server.Orders;
using Pasar.Server.Platform.Events;

namespace Pasar.Server.Social;

internal static class SocialModule
{
    public static IHostApplicationBuilder AddSocial(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<SocialOptions>().BindConfiguration("Pasar:Social")
            .Validate(o => o.ReferralCoins >= 0, "Pasar:Social:ReferralCoins must not be negative.")
            .Validate(o => o.FanoutBatchSize is >= 1 and <= 10_000, "Pasar:Social:FanoutBatchSize must be between 1 and 10000.")
            .Validate(o => o.ClicksPerAddressPerHour is >= 1 and <= 1_000_000, "Pasar:Social:ClicksPerAddressPerHour must be between 1 and 1000000.")
            .ValidateOnStart();
        builder.Services.AddSingleton<ShareClickBound>();
        builder.Services.AddSingleton<ShareStore>();
        builder.Services.AddSingleton<FollowerFanout>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<FollowerFanout>());
        builder.Services.AddSingleton<Platform.Storage.IRetentionTask, ShareClickRetention>();
        builder.Services.AddEventHandler<SellerFollowed, NewFollowerNotification>();
        builder.Services.AddEventHandler<ProductCreated, NewProductActivity>();
        builder.Services.AddEventHandler<ProductPriceDropped, PriceDropActivity>();
        builder.Services.AddEventHandler<PurchaseCompleted, ReferralReward>();
        builder.Services.AddEventHandler<Live.LiveStarted, SellerWentLive>();
        builder.Services.AddEventHandler<Live.LiveEnded, SellerWentOffline>();
        builder.Services.AddEventHandler<FlashSales.FlashSaleStarted, FlashSaleActivity>();
        return builder;
    }

    public static IEndpointRouteBuilder MapSocial(this IEndpointRouteBuilder app)
    {
        app.MapFollows();
        app.MapFeed();
        app.MapShares();
        return app;
    }
}
