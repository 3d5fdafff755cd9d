using Pasar.Server.Live;

namespace Pasar.Server.LiveRoom;

/// <summary>What a room's state adds to a live session: viewers, pinned products, the active flash sale.</summary>
internal interface IActiveFlashSaleLookup
{
    Task<object?> ActiveForSessionAsync(string sessionId, CancellationToken ct);
}

/// <summary>The open poll and the running giveaway of a session (the Engagement module implements it).</summary>
internal interface IActiveEngagementLookup
{
    Task<object?> ActivePollAsync(string sessionId, CancellationToken ct);

    Task<object?> ActiveGiveawayAsync(string sessionId, CancellationToken ct);
}

/// <summary>The vouchers a session's viewers can claim now (the Vouchers module implements it).</summary>
internal interface IActiveVoucherLookup
{
    Task<IReadOnlyList<object>> ActiveForSessionAsync(string sessionId, CancellationToken ct);
}

/// <summary>Vouchers claimed and spent in a show, for its stats and the seller's dashboard.</summary>
internal sealed record VoucherFigures(long Claimed, long Redeemed);

/// <summary>The vouchers' figures of sessions (the Vouchers module implements it).</summary>
internal interface ISessionVoucherFigures
{
    Task<IReadOnlyDictionary<string, VoucherFigures>> ForSessionsAsync(IReadOnlyCollection<string> sessionIds, CancellationToken ct);
}

/// <summary>The session's open auction (the Auctions module implements it).</summary>
internal interface IActiveAuctionLookup
{
    Task<object?> ActiveForSessionAsync(string sessionId, CancellationToken ct);
}

/// <remarks>
/// The cards come from modules that depend on this one (FlashSales, Engagement), so this module cannot name
/// their types: each lookup is optional (a host may leave the module out) and answers the module's own payload
/// record as <c>object</c>, which JSON and MessagePack serialize by its runtime type (ADR 0013).
/// </remarks>
internal sealed class LiveRoomState(
    LiveSessionStore store, LiveIngest ingest, LivePins pins, ViewerPresence presence,
    IEnumerable<IActiveFlashSaleLookup> flashSales, IEnumerable<IActiveEngagementLookup> engagement, IEnumerable<IActiveVoucherLookup> vouchers,
    IEnumerable<IActiveAuctionLookup> auctions) : ILiveRoomView
{
    private readonly IActiveAuctionLookup? _auctions = auctions.SingleOrDefault();
    private readonly IActiveVoucherLookup? _vouchers = vouchers.SingleOrDefault();
    private readonly IActiveFlashSaleLookup? _flashSales = flashSales.SingleOrDefault();
    private readonly IActiveEngagementLookup? _engagement = engagement.SingleOrDefault();

    public async Task<LiveSession> EnrichAsync(LiveSession session, CancellationToken ct)
    {
        var (current, peak) = await presence.CountAsync(session.Id);
        return session with
        {
            Viewers = new LiveViewers(current, peak),
            Pinned = (await pins.ListAsync(session.Id, ct)).Cast<object>().ToList(),
            ActiveFlashSale = await ActiveFlashSaleAsync(session.Id, ct),
            ActivePoll = await ActivePollAsync(session.Id, ct),
            ActiveGiveaway = await ActiveGiveawayAsync(session.Id, ct),
            ActiveVouchers = await ActiveVouchersAsync(session.Id, ct),
            ActiveAuction = await ActiveAuctionAsync(session.Id, ct),
        };
    }

    public async Task<LiveSession?> SessionAsync(string sessionId, CancellationToken ct)
    {
        var row = await store.FindAsync(sessionId, ct);
        return row is null ? null : await EnrichAsync(LiveSessionsApi.ToSession(row, ingest), ct);
    }

    public Task<object?> ActiveFlashSaleAsync(string sessionId, CancellationToken ct) =>
        _flashSales?.ActiveForSessionAsync(sessionId, ct) ?? Task.FromResult<object?>(null);

    public Task<object?> ActivePollAsync(string sessionId, CancellationToken ct) =>
        _engagement?.ActivePollAsync(sessionId, ct) ?? Task.FromResult<object?>(null);

    public Task<object?> ActiveGiveawayAsync(string sessionId, CancellationToken ct) =>
        _engagement?.ActiveGiveawayAsync(sessionId, ct) ?? Task.FromResult<object?>(null);

    public Task<IReadOnlyList<object>> ActiveVouchersAsync(string sessionId, CancellationToken ct) =>
        _vouchers?.ActiveForSessionAsync(sessionId, ct) ?? Task.FromResult<IReadOnlyList<object>>([]);

    public Task<object?> ActiveAuctionAsync(string sessionId, CancellationToken ct) =>
        _auctions?.ActiveForSessionAsync(sessionId, ct) ?? Task.FromResult<object?>(null);
}
