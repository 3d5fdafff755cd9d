using System.Security.Claims;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Pasar.Server.Catalog;
using Pasar.Server.Live;
using Pasar.Server.Platform.Auth;
using Pasar.Server.Platform.Http;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.LiveRoom;

/// <summary>
/// Pinned products of a live session: the seller's own products only, at most five — pinning a sixth
/// removes the oldest, pinning a pinned one moves it to newest. Kept in SQL, pushed as <c>pinsUpdated</c>.
/// </summary>
internal sealed class LivePins(Database database, ICatalogStock catalog, IReplayMoments moments, TimeProvider time)
{
    public const int MaxPinned = 5;

    public enum Outcome
    {
        Done,
        ProductNotFound,
        NotOwnProduct,
    }

    public async Task<(Outcome Outcome, IReadOnlyList<PinnedProduct> Pinned)> PinAsync(string sessionId, string sellerId, string productId, CancellationToken ct) =>
        await database.InTransactionAsync(async (c, tx) =>
        {
            var product = await catalog.FindAsync(c, tx, productId, ct);
            if (product is null)
            {
                return (Outcome.ProductNotFound, (IReadOnlyList<PinnedProduct>)[]);
            }

            if (product.SellerId != sellerId)
            {
                return (Outcome.NotOwnProduct, []);
            }

            await LockAsync(c, tx, sessionId, ct);
            // Strictly increasing pin times within a session, so "oldest" is never a tie.
            var last = await c.ExecuteScalarAsync<long?>(new CommandDefinition(
                "SELECT MAX(pinned_at) FROM live_pins WHERE session_id = @sessionId", new { sessionId }, tx, cancellationToken: ct)) ?? 0;
            var at = Math.Max(time.GetUtcNow().ToUnixTimeMilliseconds(), last + 1);
            await c.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO live_pins (session_id, product_id, pinned_at) VALUES (@sessionId, @productId, @at)
                ON CONFLICT (session_id, product_id) DO UPDATE SET pinned_at = excluded.pinned_at
                """, new { sessionId, productId, at }, tx, cancellationToken: ct));
            await c.ExecuteAsync(new CommandDefinition(
                """
                DELETE FROM live_pins WHERE session_id = @sessionId AND product_id NOT IN (
                    SELECT product_id FROM live_pins WHERE session_id = @sessionId ORDER BY pinned_at DESC LIMIT @max)
                """, new { sessionId, max = MaxPinned }, tx, cancellationToken: ct));
            // Every pin, a re-pin included, is a moment of the replay, with the price the product had then.
            await moments.RecordAsync(c, tx, sessionId, IReplayMoments.Pin, product.Id, product.Title, product.PriceMinor, product.Currency,
                DateTimeOffset.FromUnixTimeMilliseconds(at), ct);
            return (Outcome.Done, await ListAsync(c, tx, sessionId, ct));
        }, ct);

    public async Task<IReadOnlyList<PinnedProduct>> UnpinAsync(string sessionId, string productId, CancellationToken ct) =>
        await database.InTransactionAsync(async (c, tx) =>
        {
            await LockAsync(c, tx, sessionId, ct);
            await c.ExecuteAsync(new CommandDefinition(
                "DELETE FROM live_pins WHERE session_id = @sessionId AND product_id = @productId", new { sessionId, productId }, tx, cancellationToken: ct));
            return await ListAsync(c, tx, sessionId, ct);
        }, ct);

    /// <summary>The sessions where <paramref name="productId"/> is pinned now.</summary>
    public async Task<IReadOnlyList<string>> SessionsPinningAsync(string productId, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        return (await c.QueryAsync<string>(new CommandDefinition(
            "SELECT session_id FROM live_pins WHERE product_id = @productId", new { productId }, cancellationToken: ct))).AsList();
    }

    public async Task<IReadOnlyList<PinnedProduct>> ListAsync(string sessionId, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        return await ListAsync(c, null, sessionId, ct);
    }

    private async Task<IReadOnlyList<PinnedProduct>> ListAsync(System.Data.Common.DbConnection c, System.Data.Common.DbTransaction? tx, string sessionId, CancellationToken ct)
    {
        var pins = await c.QueryAsync<(string ProductId, long PinnedAt)>(new CommandDefinition(
            "SELECT product_id, pinned_at FROM live_pins WHERE session_id = @sessionId ORDER BY pinned_at", new { sessionId }, tx, cancellationToken: ct));
        var result = new List<PinnedProduct>();
        foreach (var (productId, pinnedAt) in pins)
        {
            if (await catalog.FindAsync(c, tx, productId, ct) is { } p)
            {
                result.Add(new PinnedProduct(p.Id, p.Title, p.PriceMinor, p.Currency, p.ImageUrl, DateTimeOffset.FromUnixTimeMilliseconds(pinnedAt)));
            }
        }

        return result;
    }

    private static Task LockAsync(System.Data.Common.DbConnection c, System.Data.Common.DbTransaction tx, string sessionId, CancellationToken ct) =>
        c.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO live_pin_versions (session_id, version) VALUES (@sessionId, 1)
            ON CONFLICT (session_id) DO UPDATE SET version = live_pin_versions.version + 1
            """, new { sessionId }, tx, cancellationToken: ct));
}

internal static class PinsApi
{
    public static void MapPins(this IEndpointRouteBuilder app)
    {
        var pins = app.MapGroup("/api/live/sessions/{id}/pins").WithTags("Live room").RequireAuthorization(Policies.User).RequireId("id", "SESSION_NOT_FOUND", "Live session");
        pins.MapPost("/", Pin).WithSummary("Pin one of your products to the live session (owner); at most 5, the oldest goes");
        pins.MapDelete("/{productId}", Unpin).WithSummary("Unpin a product (owner)");
    }

    internal static async Task<Results<Ok<PinsUpdated>, ProblemHttpResult, ValidationProblem>> Pin(
        string id, PinRequest body, ClaimsPrincipal user, RoomSessions sessions, LivePins pins, RoomBroadcaster broadcaster, RoomAnalyticsFeed analytics, CancellationToken ct)
    {
        var v = new RequestValidator().Text("productId", body.ProductId, 1, 64);
        if (!v.IsValid)
        {
            return ApiProblem.Validation(v.Errors);
        }

        if (await OwnedSessionAsync(id, user, sessions, ct) is { } problem)
        {
            return problem;
        }

        var (outcome, pinned) = await pins.PinAsync(id, user.UserId(), body.ProductId!, ct);
        switch (outcome)
        {
            case LivePins.Outcome.ProductNotFound:
                return ApiProblem.NotFound("PRODUCT_NOT_FOUND", "Product");
            case LivePins.Outcome.NotOwnProduct:
                return ApiProblem.Create(StatusCodes.Status403Forbidden, "NOT_YOUR_PRODUCT", "Not your product", "Only your own products can be pinned to your live session.");
        }

        var update = new PinsUpdated(id, pinned);
        await broadcaster.PublishAsync(RoomTarget.Session, id, "pinsUpdated", update);
        analytics.PinShown(id, user.UserId(), body.ProductId!);
        return TypedResults.Ok(update);
    }

    internal static async Task<Results<Ok<PinsUpdated>, ProblemHttpResult>> Unpin(
        string id, string productId, ClaimsPrincipal user, RoomSessions sessions, LivePins pins, RoomBroadcaster broadcaster, CancellationToken ct)
    {
        if (await OwnedSessionAsync(id, user, sessions, ct) is { } problem)
        {
            return problem;
        }

        var update = new PinsUpdated(id, await pins.UnpinAsync(id, productId, ct));
        await broadcaster.PublishAsync(RoomTarget.Session, id, "pinsUpdated", update);
        return TypedResults.Ok(update);
    }

    /// <summary>Null when the user owns the session (or, with <paramref name="allowAdmin"/>, is an admin); else the problem to return.</summary>
    internal static async Task<ProblemHttpResult?> OwnedSessionAsync(string id, ClaimsPrincipal user, RoomSessions sessions, CancellationToken ct, bool allowAdmin = false)
    {
        var session = await sessions.FindAsync(id, ct);
        if (session is null)
        {
            return ApiProblem.NotFound("SESSION_NOT_FOUND", "Live session");
        }

        return session.SellerId == user.UserId() || (allowAdmin && user.IsAdmin())
            ? null
            : ApiProblem.Forbidden(allowAdmin ? "Only the session's seller or an admin can do this." : "Only the session's seller can do this.");
    }
}
