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

public sealed record Activity(string Id, string SellerId, string Type, string? ProductId, string? SessionId, string? FlashSaleId, DateTimeOffset CreatedAt);

/// <summary>Seller activities (written by event handlers) and the following feed that reads them.</summary>
public static class Feed
{
    public static void MapFeed(this IEndpointRouteBuilder app)
    {
        app.MapGet("/api/me/feed", Read).WithTags("Social").RequireAuthorization(Policies.User)
            .WithSummary("What the sellers I follow did, newest first");
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
        var v = new RequestValidator();
        var page = PageRequest.From(limit, cursor, v);
        if (!v.IsValid)
        {
            return ApiProblem.Validation(v.Errors);
        }

        await using var c = await db.OpenAsync(ct);
        // Walk all activities newest first (index on created_at, id) and keep the followed sellers' ones: for a
        // user who follows many sellers the first page is found after a few dozen index entries, with no sort.
        var rows = (await c.QueryAsync<ActivityRow>(new CommandDefinition(
            $"""
            SELECT id AS Id, seller_id AS SellerId, type AS Type, product_id AS ProductId, session_id AS SessionId, flash_sale_id AS FlashSaleId, created_at AS CreatedAt
            FROM seller_activities
            WHERE seller_id IN (SELECT seller_id FROM follows WHERE follower_id = @me) AND {page.Condition("created_at", "id")}
            ORDER BY created_at DESC, id DESC LIMIT @fetch
            """,
            new { me = user.UserId(), beforeTime = page.BeforeTime, beforeId = page.BeforeId, fetch = page.FetchSize }, cancellationToken: ct))).AsList();
        return TypedResults.Ok(page.ToPage(rows, r => r.CreatedAt, r => r.Id, r => r.ToActivity()));
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
