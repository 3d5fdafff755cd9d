namespace Pasar.Server.Tests.Architecture;

/// <summary>
/// ADR 0013: Pasar.Server is internal by default (the tests, the bench and the browser tests see its internals). A new
/// public type fails here until it is named below with its reason.
/// </summary>
public sealed class PublicSurfaceTests
{
    /// <summary>Every public type of Pasar.Server, and why it is public.</summary>
    private static readonly HashSet<string> AllowList =
    [
        // The host: Program (the entry point, for WebApplicationFactory-style hosts) and what builds it.
        "Program",
        "Pasar.Server.PasarHost",

        // What the live-room hub sends. SignalR's MessagePack protocol builds its formatters with the contractless
        // resolver, which refuses non-public types; JSON alone would not need these.
        "Pasar.Server.LiveRoom.ChatMessage",
        "Pasar.Server.LiveRoom.ChatDeleted",
        "Pasar.Server.LiveRoom.ChatSettings",
        "Pasar.Server.LiveRoom.PinnedProduct",
        "Pasar.Server.LiveRoom.PinsUpdated",
        "Pasar.Server.LiveRoom.ViewersUpdated",
        "Pasar.Server.LiveRoom.ReactionsUpdated",
        "Pasar.Server.LiveRoom.SessionStatusChanged",
        "Pasar.Server.LiveRoom.RoomSnapshot",
        "Pasar.Server.LiveRoom.LiveViewersSnapshot",
        "Pasar.Server.LiveRoom.RoomSession",
        "Pasar.Server.LiveRoom.ModeratorsChanged",
        "Pasar.Server.LiveRoom.ModeratorStatus",
        "Pasar.Server.Live.LiveSession",
        "Pasar.Server.Live.LiveViewers",
        "Pasar.Server.FlashSales.FlashSale",
        "Pasar.Server.FlashSales.FlashSaleUpdated",
        "Pasar.Server.FlashSales.FlashSaleEnded",
        "Pasar.Server.Proof.PurchaseSignal",
        "Pasar.Server.Proof.LowStockSignal",
        "Pasar.Server.Notifications.Notification",
        "Pasar.Server.Engagement.Poll",
        "Pasar.Server.Engagement.PollUpdated",
        "Pasar.Server.Vouchers.Voucher",
        "Pasar.Server.Vouchers.VoucherUpdated",
        "Pasar.Server.Auctions.Auction",
        "Pasar.Server.Auctions.AuctionUpdated",
        "Pasar.Server.Auctions.AuctionEnded",
        "Pasar.Server.Engagement.Giveaway",
        "Pasar.Server.Engagement.GiveawayDrawn",
    ];

    [Fact]
    public void Pasar_Server_exposes_only_the_allowed_public_types()
    {
        var exported = typeof(PasarHost).Assembly.GetExportedTypes()
            .Select(t => t.FullName!)
            .ToHashSet();

        Assert.Empty(exported.Except(AllowList).Order());
        Assert.Empty(AllowList.Except(exported).Order());
    }
}
