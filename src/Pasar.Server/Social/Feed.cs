using System.Data.Common;
using System.Security.Claims;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Pasar.Server.Catalog;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Auth;
using Pasar.Server.Platform.Events;
using Pasar.Server.Platform.Http;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Social;

internal sealed record Activity(string Id, string SellerId, string Type, string? ProductId, string? SessionId, string? FlashSaleId, DateTimeOffset CreatedAt);

/// <summary>Seller activities (written by event handlers) and the following feed that reads them.</summary>
internal static class Feed
{
    public static void MapFeed(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/api/me/feed").WithTags("Social").RequireAuthorization(Policies.User)
            .MapGet("/", Read).WithSummary("What the sellers I follow did, newest first");
    }

    /// <summary>Records an activity in the caller's transaction; the event id keeps a redelivery from writing it twice.</summary>
    public static Task RecordAsync(DbConnection c, DbTransaction tx, string activityId, string sellerId, string type, DateTimeOffset at,
        string? productId = null, string? sessionId = null, string? flashSaleId = null, CancellationToken ct = default) =>
        c.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO seller_activities (id, seller_id, type, product_id, session_id, flash_sale_id, created_at)
            VALUES (@activityId, @sellerId, @type, @productId, @sessionId, @flashSaleId, @at) ON CONFLICT DO NOTHING
            """,
            new { activityId, sellerId, type, productId, sessionId, flashSaleId, at = at.ToUnixTimeMilliseconds() }, tx, cancellationToken: ct));

    internal static async Task<Results<Ok<Page<Activity>>, ValidationProblem>> Read(
        [FromQuery] int? limit, [FromQuery] string? cursor, ClaimsPrincipal user, Database db, CancellationToken ct)
    {
        if (PagedQuery.Bind(limit, cursor, out var invalid) is not { } page)
        {
            return invalid!;
        }

        // Walk all activities newest first (index on created_at, id) and keep the followed sellers' ones: for a
        // user who follows many sellers the first page is found after a few dozen index entries, with no sort.
        return TypedResults.Ok(await db.QueryPageAsync<ActivityRow, Activity>(page,
            $"""
            SELECT id AS Id, seller_id AS SellerId, type AS Type, product_id AS ProductId, session_id AS SessionId, flash_sale_id AS FlashSaleId, created_at AS CreatedAt
            FROM seller_activities
            WHERE seller_id IN (SELECT seller_id FROM follows WHERE follower_id = @me) AND {page.Condition("created_at", "id")}
            ORDER BY created_at DESC, id DESC LIMIT @fetch
            """,
            new { me = user.UserId() }, r => r.CreatedAt, r => r.Id, r => r.ToActivity(), ct));
    }

    internal sealed class ActivityRow
    {
        public string Id { get; init; } = "";
        public string SellerId { get; init; } = "";
        public string Type { get; init; } = "";
        public string? ProductId { get; init; }
        public string? SessionId { get; init; }
        public string? FlashSaleId { get; init; }
        public long CreatedAt { get; init; }

        public Activity ToActivity() => new(Id, SellerId, Type, ProductId, SessionId, FlashSaleId, DateTimeOffset.FromUnixTimeMilliseconds(CreatedAt));
    }
}

internal sealed class NewProductActivity : IEventHandler<ProductCreated>
{
    public Task HandleAsync(ProductCreated e, EventContext context, CancellationToken ct) =>
        Feed.RecordAsync(context.Connection, context.Transaction, context.EventId, e.SellerId, ActivityTypes.NewProduct, e.At, productId: e.ProductId, ct: ct);
}

internal sealed class PriceDropActivity : IEventHandler<ProductPriceDropped>
{
    public Task HandleAsync(ProductPriceDropped e, EventContext context, CancellationToken ct) =>
        Feed.RecordAsync(context.Connection, context.Transaction, context.EventId, e.SellerId, ActivityTypes.PriceDrop, e.At, productId: e.ProductId, ct: ct);
}

/// <summary>
/// A followed seller went live: a LIVE_STARTED activity, the seller shown as live, and a SELLER_LIVE
/// notification to every follower through the background fan-out (the event id is the job id).
/// </summary>
internal sealed class SellerWentLive(FollowerFanout fanout) : IEventHandler<Live.LiveStarted>
{
    public async Task HandleAsync(Live.LiveStarted e, EventContext context, CancellationToken ct)
    {
        await Feed.RecordAsync(context.Connection, context.Transaction, context.EventId, e.SellerId, ActivityTypes.LiveStarted, e.At, sessionId: e.SessionId, ct: ct);
        await context.Connection.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO seller_stats (seller_id, followers, live_session_id) VALUES (@SellerId, 0, @SessionId)
            ON CONFLICT (seller_id) DO UPDATE SET live_session_id = excluded.live_session_id
            """, new { e.SellerId, e.SessionId }, context.Transaction, cancellationToken: ct));
        var name = (await UserDirectory.FindAsync(context.Connection, context.Transaction, e.SellerId, ct))?.Name ?? e.SellerId;
        // One SELLER_LIVE per user and session, shared with the show's reminder subscribers (ADR 0015).
        await fanout.StartAsync(context.Connection, context.Transaction, Notifications.NotificationTypes.OncePerUser(Notifications.NotificationTypes.SellerLive, e.SessionId),
            e.SellerId, Notifications.NotificationTypes.SellerLive,
            $"{name} is live", e.Title, new { sessionId = e.SessionId, sellerId = e.SellerId, title = e.Title }, ct);
    }
}

/// <summary>The seller's session ended: no longer shown as live (unless a newer session already is).</summary>
internal sealed class SellerWentOffline : IEventHandler<Live.LiveEnded>
{
    public Task HandleAsync(Live.LiveEnded e, EventContext context, CancellationToken ct) =>
        context.Connection.ExecuteAsync(new CommandDefinition(
            "UPDATE seller_stats SET live_session_id = NULL WHERE seller_id = @SellerId AND live_session_id = @SessionId",
            new { e.SellerId, e.SessionId }, context.Transaction, cancellationToken: ct));
}

/// <summary>A followed seller started a flash sale in their live room.</summary>
internal sealed class FlashSaleActivity : IEventHandler<FlashSales.FlashSaleStarted>
{
    public Task HandleAsync(FlashSales.FlashSaleStarted e, EventContext context, CancellationToken ct) =>
        Feed.RecordAsync(context.Connection, context.Transaction, context.EventId, e.SellerId, ActivityTypes.FlashSaleStarted, e.At,
            productId: e.ProductId, sessionId: e.SessionId, flashSaleId: e.FlashSaleId, ct: ct);
}
