using Pasar.Server.LiveRoom;
using Pasar.Server.Platform;

namespace Pasar.Server.Auctions;

/// <summary>Live auctions (SPEC §15, ADR 0021); tables auctions, auction_bids.</summary>
internal static class AuctionsModule
{
    public static IHostApplicationBuilder AddAuctions(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<AuctionOptions>().BindConfiguration("Pasar:Auctions");
        builder.Services.AddSingleton<AuctionGate>();
        builder.Services.AddSingleton<AuctionService>();
        builder.Services.AddSingleton<IActiveAuctionLookup, ActiveAuctionLookup>();
        builder.Services.AddHostedService<AuctionTicker>();
        builder.Services.AddRoomMessages((broadcaster, _) =>
        {
            broadcaster.Register<Auction>("auctionStarted");
            broadcaster.Register<AuctionUpdated>("auctionUpdated");
            broadcaster.Register<AuctionEnded>("auctionEnded");
        });
        return builder;
    }

    public static IEndpointRouteBuilder MapAuctions(this IEndpointRouteBuilder app)
    {
        app.MapAuctionsApi();
        return app;
    }
}

internal sealed class ActiveAuctionLookup(AuctionService auctions) : IActiveAuctionLookup
{
    public async Task<object?> ActiveForSessionAsync(string sessionId, CancellationToken ct) => await auctions.ActiveForSessionAsync(sessionId, ct);
}

/// <summary>Four times a second: push coalesced highest bids; every second: close auctions whose end has passed.</summary>
internal sealed class AuctionTicker(AuctionService auctions, ILogger<AuctionTicker> logger) : RoomTicker(logger, "Auction")
{
    protected override Task PushAsync(CancellationToken ct) => auctions.PushUpdatesAsync(ct);

    protected override Task SettleDueAsync(CancellationToken ct) => auctions.CloseDueAsync(ct);
}
