using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Pasar.Server.Live;
using Pasar.Server.Platform.Auth;
using Pasar.Server.Platform.Http;

namespace Pasar.Server.Auctions;

/// <summary>Live auctions: started in a live session, bid on and read by id (SPEC §15).</summary>
internal static class AuctionsApi
{
    public static void MapAuctionsApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/api/live/sessions/{id}/auctions").WithTags("Auctions").RequireId("id", "SESSION_NOT_FOUND", "Live session")
            .MapPost("/", Start).RequireAuthorization(Policies.User)
            .WithSummary("Start an auction of one unit of your product in your live session; send an Idempotency-Key");
        var auctions = app.MapGroup("/api/auctions/{id}").WithTags("Auctions").RequireId("id", "AUCTION_NOT_FOUND", "Auction");
        auctions.MapGet("/", Get).AllowAnonymous().WithSummary("An auction with its highest bid, its end and, once sold, its order");
        auctions.MapPost("/bids", Bid).RequireAuthorization(Policies.User)
            .WithSummary("Bid in an auction (anyone signed in but its seller); send an Idempotency-Key");
    }

    internal static async Task<Results<Created<Auction>, ProblemHttpResult, ValidationProblem>> Start(
        string id, StartAuctionRequest body, [FromHeader(Name = IdempotencyStore.Header)] string? idempotencyKey,
        ClaimsPrincipal user, LiveSessionStore sessions, AuctionService auctions, CancellationToken ct)
    {
        var session = await sessions.FindAsync(id, ct);
        if (session is null)
        {
            return ApiProblem.NotFound("SESSION_NOT_FOUND", "Live session");
        }

        if (session.SellerId != user.UserId())
        {
            return ApiProblem.Forbidden("Only the session's seller can start an auction.");
        }

        return await auctions.StartAsync(session, body, idempotencyKey, ct);
    }

    internal static async Task<Results<Ok<Auction>, ProblemHttpResult>> Get(string id, AuctionService auctions, CancellationToken ct) =>
        await auctions.GetAsync(id, ct) is { } auction ? TypedResults.Ok(auction) : ApiProblem.NotFound("AUCTION_NOT_FOUND", "Auction");

    internal static Task<Results<Created<AuctionBid>, ProblemHttpResult, ValidationProblem>> Bid(
        string id, PlaceBidRequest body, [FromHeader(Name = IdempotencyStore.Header)] string? idempotencyKey,
        ClaimsPrincipal user, AuctionService auctions, CancellationToken ct) =>
        auctions.BidAsync(id, user.UserId(), user.DisplayName(), body, idempotencyKey, ct);
}
