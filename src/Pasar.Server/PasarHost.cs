using Pasar.Server.Analytics;
using Pasar.Server.Auctions;
using Pasar.Server.Catalog;
using Pasar.Server.Coins;
using Pasar.Server.Demo;
using Pasar.Server.Engagement;
using Pasar.Server.FlashSales;
using Pasar.Server.Games;
using Pasar.Server.Live;
using Pasar.Server.LiveRoom;
using Pasar.Server.Notifications;
using Pasar.Server.Orders;
using Pasar.Server.Platform;
using Pasar.Server.Proof;
using Pasar.Server.Social;
using Pasar.Server.Vouchers;
using Pasar.Server.Web;

namespace Pasar.Server;

/// <summary>Composes the modules. Tests and the benchmark build the same host with their own settings.</summary>
public static class PasarHost
{
    /// <summary>
    /// The arguments a one-off command (<c>analytics backfill</c>, <c>storage upload-replays</c>) builds the host
    /// with: the same configuration as the server, listening on loopback ports of its own so it can run beside it.
    /// </summary>
    internal static string[] CommandArguments(string[] args) =>
        [.. args, "--urls=http://127.0.0.1:0", "--Pasar:Rtmp:Port=0", "--Pasar:Rtmp:Address=127.0.0.1"];

    public static WebApplication Build(string[] args, Action<WebApplicationBuilder>? configure = null)
    {
        var builder = WebApplication.CreateBuilder(args);
        builder.AddPlatform();
        builder.AddAnalytics();
        builder.AddCatalog();
        builder.AddOrders();
        builder.AddCoins();
        builder.AddGames();
        builder.AddNotifications();
        builder.AddSocial();
        builder.AddLive();
        builder.AddLiveRoom();
        builder.AddFlashSales();
        builder.AddProof();
        builder.AddEngagement();
        builder.AddVouchers();
        builder.AddAuctions();
        builder.AddWeb();
        builder.AddDemo();
        configure?.Invoke(builder);

        var app = builder.Build();
        app.UsePlatform();
        app.UseWeb();
        app.MapPlatform();
        app.MapCatalog();
        app.MapOrders();
        app.MapCoins();
        app.MapGames();
        app.MapNotifications();
        app.MapSocial();
        app.MapLive();
        app.MapLiveRoom();
        app.MapFlashSales();
        app.MapProof();
        app.MapEngagement();
        app.MapVouchers();
        app.MapAuctions();
        app.MapWeb();
        app.MapDemo();
        return app;
    }
}
