using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Pasar.Server.Live;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Auth;
using Pasar.Server.Platform.Http;

namespace Pasar.Server.Vouchers;

/// <summary>Live vouchers: dropped in a live session, claimed by buyers, spent once on an order (SPEC §15).</summary>
internal static class VouchersApi
{
    public static void MapVouchersApi(this IEndpointRouteBuilder app)
    {
        var session = app.MapGroup("/api/live/sessions/{id}/vouchers").WithTags("Vouchers").RequireId("id", "SESSION_NOT_FOUND", "Live session");
        session.MapPost("/", Drop).RequireAuthorization(Policies.User)
            .WithSummary("Drop a voucher in your live session: a number of claims, each a discount on one order of your products");
        session.MapGet("/", Report).RequireAuthorization(Policies.User).WithSummary("The session's vouchers with their claims and redemptions (owner)");
        var vouchers = app.MapGroup("/api/vouchers/{id}").WithTags("Vouchers").RequireId("id", "VOUCHER_NOT_FOUND", "Voucher");
        vouchers.MapGet("/", Get).AllowAnonymous().WithSummary("A voucher with its remaining claims");
        vouchers.MapPost("/claims", Claim).RequireAuthorization(Policies.Buyer).WithSummary("Claim a voucher (buyer); send an Idempotency-Key");
        app.MapGroup("/api/me/vouchers").WithTags("Vouchers").RequireAuthorization(Policies.User)
            .MapGet("/", Mine).WithSummary("My unused voucher claims, newest first");
    }

    internal static async Task<Results<Created<Voucher>, ProblemHttpResult, ValidationProblem>> Drop(
        string id, DropVoucherRequest body, ClaimsPrincipal user, LiveSessionStore sessions, VoucherService vouchers, CancellationToken ct)
    {
        var session = await sessions.FindAsync(id, ct);
        if (session is null)
        {
            return ApiProblem.NotFound("SESSION_NOT_FOUND", "Live session");
        }

        if (session.SellerId != user.UserId())
        {
            return ApiProblem.Forbidden("Only the session's seller can drop a voucher.");
        }

        return await vouchers.DropAsync(session, body, ct);
    }

    internal static async Task<Results<Ok<SessionVouchers>, ProblemHttpResult>> Report(
        string id, ClaimsPrincipal user, LiveSessionStore sessions, VoucherService vouchers, CancellationToken ct)
    {
        var session = await sessions.FindAsync(id, ct);
        if (session is null)
        {
            return ApiProblem.NotFound("SESSION_NOT_FOUND", "Live session");
        }

        if (session.SellerId != user.UserId() && !user.IsAdmin())
        {
            return ApiProblem.Forbidden("Only the session's seller sees its vouchers' claims.");
        }

        return TypedResults.Ok(new SessionVouchers(await vouchers.ReportAsync(id, ct)));
    }

    internal static async Task<Results<Ok<Voucher>, ProblemHttpResult>> Get(string id, VoucherService vouchers, CancellationToken ct) =>
        await vouchers.GetAsync(id, ct) is { } voucher ? TypedResults.Ok(voucher) : ApiProblem.NotFound("VOUCHER_NOT_FOUND", "Voucher");

    internal static Task<Results<Created<VoucherClaim>, ProblemHttpResult, ValidationProblem>> Claim(
        string id, [FromHeader(Name = IdempotencyStore.Header)] string? idempotencyKey, ClaimsPrincipal user, VoucherService vouchers, CancellationToken ct) =>
        vouchers.ClaimAsync(id, user.UserId(), idempotencyKey, ct);

    internal static async Task<Ok<MyVoucherClaims>> Mine(ClaimsPrincipal user, VoucherService vouchers, CancellationToken ct) =>
        TypedResults.Ok(new MyVoucherClaims(await vouchers.UnusedClaimsAsync(user.UserId(), ct)));
}
