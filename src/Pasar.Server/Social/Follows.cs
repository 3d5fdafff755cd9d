using System.Security.Claims;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Pasar.Server.Notifications;
using Pasar.Server.Platform.Auth;
using Pasar.Server.Platform.Events;
using Pasar.Server.Platform.Http;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Social;

internal sealed record SellerProfile(string Id, string Name, long Followers, bool IsLive, string? LiveSessionId);

internal static class Follows
{
    public static void MapFollows(this IEndpointRouteBuilder app)
    {
        var me = app.MapGroup("/api/me/following").WithTags("Social").RequireAuthorization(Policies.User);
        me.MapPut("/{sellerId}", Follow).WithSummary("Follow a seller (idempotent)");
        me.MapDelete("/{sellerId}", Unfollow).WithSummary("Stop following a seller (idempotent)");
        me.MapGet("/", Following).WithSummary("The sellers I follow, most recently followed first");
        app.MapGet("/api/sellers/{sellerId}", Profile).WithTags("Social").AllowAnonymous().WithSummary("A seller: name, followers, live now");
    }

    internal sealed class ProfileRow
    {
        public string Id { get; init; } = "";
        public string Name { get; init; } = "";
        public long Followers { get; init; }
        public string? LiveSessionId { get; init; }
        public long FollowedAt { get; init; }

        public SellerProfile ToProfile() => new(Id, Name, Followers, LiveSessionId is not null, LiveSessionId);
    }

    internal static async Task<Results<NoContent, ProblemHttpResult>> Follow(
        string sellerId, ClaimsPrincipal user, Database db, Outbox outbox, TimeProvider time, CancellationToken ct)
    {
        var me = user.UserId();
        if (sellerId == me)
        {
            return ApiProblem.Create(StatusCodes.Status400BadRequest, "CANNOT_FOLLOW_SELF", "You cannot follow yourself");
        }

        var result = await db.InTransactionAsync<ProblemHttpResult?>(async (c, tx) =>
        {
            // Who is a seller is the user directory's to say (Platform); Social keeps only its own tables.
            if ((await UserDirectory.FindAsync(c, tx, sellerId, ct))?.Role != Roles.Seller)
            {
                return ApiProblem.NotFound("SELLER_NOT_FOUND", "Seller");
            }

            var now = time.GetUtcNow();
            var inserted = await c.ExecuteAsync(new CommandDefinition(
                "INSERT INTO follows (follower_id, seller_id, created_at) VALUES (@me, @sellerId, @at) ON CONFLICT DO NOTHING",
                new { me, sellerId, at = now.ToUnixTimeMilliseconds() }, tx, cancellationToken: ct));
            if (inserted == 1)
            {
                // The count moves in the same transaction as the row, so it always equals the rows.
                await c.ExecuteAsync(new CommandDefinition(
                    """
                    INSERT INTO seller_stats (seller_id, followers) VALUES (@sellerId, 1)
                    ON CONFLICT (seller_id) DO UPDATE SET followers = seller_stats.followers + 1
                    """, new { sellerId }, tx, cancellationToken: ct));
                await outbox.EnqueueAsync(c, tx, new SellerFollowed(me, user.DisplayName(), sellerId, now), ct);
            }

            return null;
        }, ct);
        return result is null ? TypedResults.NoContent() : result;
    }

    internal static async Task<NoContent> Unfollow(string sellerId, ClaimsPrincipal user, Database db, CancellationToken ct)
    {
        var me = user.UserId();
        await db.InTransactionAsync(async (c, tx) =>
        {
            var deleted = await c.ExecuteAsync(new CommandDefinition(
                "DELETE FROM follows WHERE follower_id = @me AND seller_id = @sellerId", new { me, sellerId }, tx, cancellationToken: ct));
            if (deleted == 1)
            {
                await c.ExecuteAsync(new CommandDefinition(
                    "UPDATE seller_stats SET followers = followers - 1 WHERE seller_id = @sellerId", new { sellerId }, tx, cancellationToken: ct));
            }
        }, ct);
        return TypedResults.NoContent();
    }

    internal static async Task<Results<Ok<Page<SellerProfile>>, ValidationProblem>> Following(
        [FromQuery] int? limit, [FromQuery] string? cursor, ClaimsPrincipal user, Database db, CancellationToken ct)
    {
        if (PagedQuery.Bind(limit, cursor, out var invalid) is not { } page)
        {
            return invalid!;
        }

        var followed = await db.QueryPageAsync<ProfileRow, SellerProfile>(page,
            $"""
            SELECT f.seller_id AS Id, '' AS Name, COALESCE(s.followers, 0) AS Followers, s.live_session_id AS LiveSessionId, f.created_at AS FollowedAt
            FROM follows f LEFT JOIN seller_stats s ON s.seller_id = f.seller_id
            WHERE f.follower_id = @me AND {page.Condition("f.created_at", "f.seller_id")}
            ORDER BY f.created_at DESC, f.seller_id DESC LIMIT @fetch
            """,
            new { me = user.UserId() }, r => r.FollowedAt, r => r.Id, r => r.ToProfile(), ct);

        // Names come from the user directory (a follow exists only for a recorded seller, and users are never removed).
        await using var c = await db.OpenAsync(ct);
        var names = await UserDirectory.NamesAsync(c, followed.Items.Select(p => p.Id).Distinct().ToList(), ct);
        return TypedResults.Ok(followed with { Items = followed.Items.Select(p => p with { Name = names.GetValueOrDefault(p.Id, p.Id) }).ToList() });
    }

    internal static async Task<Results<Ok<SellerProfile>, ProblemHttpResult>> Profile(string sellerId, Database db, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        if (await UserDirectory.FindAsync(c, null, sellerId, ct) is not { Role: Roles.Seller } seller)
        {
            return ApiProblem.NotFound("SELLER_NOT_FOUND", "Seller");
        }

        var stats = await c.QuerySingleOrDefaultAsync<ProfileRow>(new CommandDefinition(
            "SELECT seller_id AS Id, followers AS Followers, live_session_id AS LiveSessionId FROM seller_stats WHERE seller_id = @sellerId",
            new { sellerId }, cancellationToken: ct));
        return TypedResults.Ok(new SellerProfile(seller.Id, seller.Name, stats?.Followers ?? 0, stats?.LiveSessionId is not null, stats?.LiveSessionId));
    }
}

/// <summary>Tells a seller about a new follower.</summary>
internal sealed class NewFollowerNotification(NotificationInbox inbox) : IEventHandler<SellerFollowed>
{
    public Task HandleAsync(SellerFollowed e, EventContext context, CancellationToken ct) =>
        inbox.AddAsync(context, e.SellerId, NotificationTypes.NewFollower,
            "New follower", $"{e.FollowerName} started following you.", new { followerId = e.FollowerId, followerName = e.FollowerName }, ct);
}
