using System.Data.Common;
using System.Security.Claims;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Pasar.Server.Analytics;
using Pasar.Server.Live;
using Pasar.Server.Orders;
using Pasar.Server.Platform.Auth;
using Pasar.Server.Platform.Events;
using Pasar.Server.Platform.Http;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.LiveRoom;

internal sealed record ViewerSample(DateTimeOffset At, long Viewers);

internal sealed record LiveStats(
    long UniqueViewers, long TotalViews, long PeakViewers, long CurrentViewers, double AvgWatchSeconds,
    long ChatMessages, long Purchases, long GmvMinor, double ConversionRate, IReadOnlyList<ViewerSample> Timeline,
    long VouchersClaimed = 0, long VouchersRedeemed = 0);

internal static class RoomAnalytics
{
    public static void MapStats(this IEndpointRouteBuilder app) =>
        app.MapGroup("/api/live/sessions/{id}/stats").WithTags("Live room").RequireAuthorization(Policies.User).RequireId("id", "SESSION_NOT_FOUND", "Live session")
            .MapGet("/", Stats)
            .WithSummary("Live analytics of a session (its owner or an admin)");

    internal static async Task<Results<Ok<LiveStats>, ProblemHttpResult>> Stats(
        string id, ClaimsPrincipal user, RoomSessions sessions, ViewerPresence presence, ViewWriter views, ClickWriter clicks, ChatWriter chat, Database db,
        ISessionAnalytics analytics, IEnumerable<ISessionVoucherFigures> voucherFigures, ILoggerFactory logs, CancellationToken ct)
    {
        var session = await sessions.FindAsync(id, ct);
        if (session is null)
        {
            return ApiProblem.NotFound("SESSION_NOT_FOUND", "Live session");
        }

        if (session.SellerId != user.UserId() && !user.IsAdmin())
        {
            return ApiProblem.Forbidden("Only the session's seller or an admin can see its analytics.");
        }

        await Task.WhenAll(views.FlushAsync(), clicks.FlushAsync(), chat.FlushAsync());
        var figures = await FiguresAsync(session, analytics, db, logs, ct);
        var (current, peak) = await presence.CountAsync(id);
        await using var c = await db.OpenAsync(ct);
        var storedPeak = await c.ExecuteScalarAsync<long?>(new CommandDefinition(
            "SELECT peak_viewers FROM live_room_stats WHERE session_id = @id", new { id }, cancellationToken: ct)) ?? 0;
        var timeline = (await c.QueryAsync<(long At, long Viewers)>(new CommandDefinition(
            "SELECT at, viewers FROM live_viewer_samples WHERE session_id = @id ORDER BY at", new { id }, cancellationToken: ct)))
            .Select(s => new ViewerSample(DateTimeOffset.FromUnixTimeMilliseconds(s.At), s.Viewers)).ToList();
        var vouchers = await VouchersAsync(voucherFigures, [id], ct);
        var claimed = vouchers.GetValueOrDefault(id);
        return TypedResults.Ok(new LiveStats(
            figures.UniqueViewers, figures.TotalViews, Math.Max(peak, storedPeak), current, figures.AvgWatchSeconds,
            figures.ChatMessages, figures.Purchases, figures.GmvMinor,
            figures.UniqueViewers == 0 ? 0 : Math.Round((double)figures.Buyers / figures.UniqueViewers, 4), timeline,
            claimed?.Claimed ?? 0, claimed?.Redeemed ?? 0));
    }

    /// <summary>The shows' voucher claims and redemptions (none when the Vouchers module is left out of the host).</summary>
    internal static async Task<IReadOnlyDictionary<string, VoucherFigures>> VouchersAsync(
        IEnumerable<ISessionVoucherFigures> lookups, IReadOnlyCollection<string> sessionIds, CancellationToken ct) =>
        lookups.SingleOrDefault() is { } lookup ? await lookup.ForSessionsAsync(sessionIds, ct) : new Dictionary<string, VoucherFigures>();

    /// <summary>
    /// The event figures of a session: from ClickHouse when it is configured (SPEC §13), else from the room's SQL
    /// tables. Current and peak viewers and the timeline are the room's live state and come from it either way.
    /// A ClickHouse that cannot answer falls back to SQL, which holds the same events.
    /// </summary>
    internal static async Task<SessionFigures> FiguresAsync(RoomSession session, ISessionAnalytics analytics, Database db, ILoggerFactory logs, CancellationToken ct) =>
        (await FiguresAsync(session.SellerId, [session.Id], analytics, db, logs, ct))[session.Id];

    /// <summary>
    /// <see cref="FiguresAsync"/> for many sessions of one seller: one round of grouped ClickHouse queries when it is
    /// configured, else (or when it cannot answer) each session from SQL.
    /// </summary>
    internal static async Task<IReadOnlyDictionary<string, SessionFigures>> FiguresAsync(
        string sellerId, IReadOnlyCollection<string> sessionIds, ISessionAnalytics analytics, Database db, ILoggerFactory logs, CancellationToken ct)
    {
        if (analytics.Enabled && sessionIds.Count > 0)
        {
            try
            {
                return await analytics.SessionsAsync(sellerId, sessionIds, ct);
            }
            catch (Exception ex) when (ex is ClickHouseException or ClickHouseUnavailableException)
            {
                logs.CreateLogger(typeof(RoomAnalytics)).LogWarning("Figures of {Count} shows answered from SQL: ClickHouse could not ({Error})", sessionIds.Count, ex.Message);
            }
        }

        var figures = new Dictionary<string, SessionFigures>(sessionIds.Count);
        foreach (var id in sessionIds)
        {
            figures[id] = await SqlFiguresAsync(db, id, ct);
        }

        return figures;
    }

    /// <summary>The SQL path's figures (the embedded default), kept beside ClickHouse's for the same events.</summary>
    internal static async Task<SessionFigures> SqlFiguresAsync(Database db, string id, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var viewing = await c.QuerySingleAsync<(long Unique, long Total, double? AvgMs)>(new CommandDefinition(
            """
            SELECT COUNT(DISTINCT viewer_id), COUNT(*), AVG(CAST(COALESCE(ended_at, last_seen_at) - started_at AS DOUBLE PRECISION))
            FROM live_views WHERE session_id = @id
            """, new { id }, cancellationToken: ct));
        var chatCount = await c.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM chat_messages WHERE session_id = @id", new { id }, cancellationToken: ct));
        var sales = await c.QuerySingleAsync<(long Purchases, long? Gmv, long Buyers)>(new CommandDefinition(
            "SELECT COUNT(*), SUM(amount_minor), COUNT(DISTINCT buyer_id) FROM live_purchases WHERE session_id = @id", new { id }, cancellationToken: ct));
        var clicks = await c.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM live_product_clicks WHERE session_id = @id", new { id }, cancellationToken: ct));
        return new SessionFigures(viewing.Unique, viewing.Total, Math.Round((viewing.AvgMs ?? 0) / 1000.0, 1), chatCount, sales.Purchases, sales.Gmv ?? 0, sales.Buyers, clicks);
    }
}

/// <summary>
/// Attributes a purchase to a live session: an order for the seller's product, placed while the seller was
/// live, by a buyer who was watching that session; or an order that names its session (bought from the
/// session's replay, checked by <see cref="OrderSessions"/> when it was placed).
/// </summary>
internal sealed class LivePurchaseAttribution(LiveSessionStore sessions, ViewerPresence presence, IAnalyticsRecorder analytics) : IEventHandler<PurchaseCompleted>
{
    public async Task HandleAsync(PurchaseCompleted e, EventContext context, CancellationToken ct)
    {
        if (e.SessionId is { } named)
        {
            await AttributeAsync(e, named, context, ct);
            return;
        }

        var live = await sessions.ListAsync(LiveStatus.Live, e.SellerId, new PageRequest(5, null, null), ct);

        foreach (var session in live)
        {
            // Views are written in batches, so a viewer who joined a moment ago may be only in the hot store yet.
            var watched = await presence.HasJoinedAsync(session.Id, e.BuyerId)
                || await context.Connection.ExecuteScalarAsync<long>(new CommandDefinition(
                    "SELECT COUNT(*) FROM live_views WHERE session_id = @Id AND user_id = @BuyerId", new { session.Id, e.BuyerId }, context.Transaction, cancellationToken: ct)) > 0;
            if (watched)
            {
                var attributed = await context.Connection.ExecuteAsync(new CommandDefinition(
                    "INSERT INTO live_purchases (order_id, session_id, buyer_id, amount_minor, at) VALUES (@OrderId, @Id, @BuyerId, @TotalMinor, @at) ON CONFLICT DO NOTHING",
                    new { e.OrderId, session.Id, e.BuyerId, e.TotalMinor, at = e.At.ToUnixTimeMilliseconds() }, context.Transaction, cancellationToken: ct));
                if (attributed == 1)
                {
                    // Spooled in the same transaction: the purchase is in ClickHouse's future exactly when it is in SQL.
                    await analytics.RecordAsync(context.Connection, context.Transaction, new AnalyticsEvent(
                        "purchase:" + e.OrderId, AnalyticsKind.Purchase, session.Id, e.SellerId, e.BuyerId, e.BuyerId, e.At.ToUnixTimeMilliseconds(),
                        ProductId: e.ProductId, AmountMinor: e.TotalMinor, Currency: e.Currency, FlashSaleId: e.FlashSaleId), ct);
                }

                return;
            }
        }
    }

    private async Task AttributeAsync(PurchaseCompleted e, string sessionId, EventContext context, CancellationToken ct)
    {
        var attributed = await context.Connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO live_purchases (order_id, session_id, buyer_id, amount_minor, at) VALUES (@OrderId, @sessionId, @BuyerId, @TotalMinor, @at) ON CONFLICT DO NOTHING",
            new { e.OrderId, sessionId, e.BuyerId, e.TotalMinor, at = e.At.ToUnixTimeMilliseconds() }, context.Transaction, cancellationToken: ct));
        if (attributed == 1)
        {
            await analytics.RecordAsync(context.Connection, context.Transaction, new AnalyticsEvent(
                "purchase:" + e.OrderId, AnalyticsKind.Purchase, sessionId, e.SellerId, e.BuyerId, e.BuyerId, e.At.ToUnixTimeMilliseconds(),
                ProductId: e.ProductId, AmountMinor: e.TotalMinor, Currency: e.Currency, FlashSaleId: e.FlashSaleId), ct);
        }
    }
}

/// <summary>An order may name a session of its product's seller that went on air (live now, or its replay).</summary>
internal sealed class OrderSessions(LiveSessionStore sessions) : IOrderSessions
{
    public async Task<OrderRefusal?> CheckAsync(string sessionId, string sellerId, CancellationToken ct)
    {
        var row = await sessions.FindAsync(sessionId, ct);
        if (row is null)
        {
            return OrderRefusal.SessionNotFound;
        }

        return row.SellerId == sellerId && row.StartedAt is not null ? null : OrderRefusal.SessionMismatch;
    }
}
