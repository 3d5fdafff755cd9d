using System.Security.Claims;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Auth;
using Pasar.Server.Platform.Http;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Coins;

internal sealed record CoinBalance(long Balance);

internal sealed record CheckInResult(int StreakDay, int CycleDay, long Coins, bool Bonus, string Date);

internal sealed record CheckInDay(string Date, long Coins);

internal sealed record CheckInStatus(int StreakDay, bool CheckedInToday, long NextReward, bool NextRewardIsBonus, IReadOnlyList<CheckInDay> Recent);

internal sealed record AdjustmentRequest(string? UserId, long? Amount, string? Reason);

internal static class CoinsApi
{
    public static void MapCoinsApi(this IEndpointRouteBuilder app)
    {
        var me = app.MapGroup("/api/me").WithTags("Coins").RequireAuthorization(Policies.User);
        me.MapGet("/coins", Balance).WithSummary("My coin balance");
        me.MapGet("/coins/transactions", Transactions).WithSummary("My coin ledger, newest first");
        me.MapPost("/check-ins", CheckIn).WithSummary("Check in for today (region day) and earn the streak reward");
        me.MapGet("/check-ins", CheckInState).WithSummary("My streak, whether I checked in today, the next reward and recent days");
        app.MapPost("/api/admin/coins/adjustments", Adjust).WithTags("Coins").RequireAuthorization(Policies.Admin)
            .WithSummary("Credit or debit a user's coins (support, goodwill); requires an Idempotency-Key");
    }

    internal static async Task<Ok<CoinBalance>> Balance(ClaimsPrincipal user, Database db, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return TypedResults.Ok(new CoinBalance(await CoinLedger.BalanceAsync(c, user.UserId(), ct)));
    }

    internal static async Task<Results<Ok<Page<CoinEntry>>, ValidationProblem>> Transactions(
        [FromQuery] int? limit, [FromQuery] string? cursor, ClaimsPrincipal user, CoinLedger ledger, CancellationToken ct) =>
        PagedQuery.Bind(limit, cursor, out var invalid) is { } page ? TypedResults.Ok(await ledger.PageAsync(user.UserId(), page, ct)) : invalid!;

    internal static async Task<Results<Created<CheckInResult>, ProblemHttpResult>> CheckIn(ClaimsPrincipal user, CheckIns checkIns, CancellationToken ct) =>
        await checkIns.CheckInAsync(user.UserId(), ct) is { } result
            ? TypedResults.Created("/api/me/check-ins", result)
            : ApiProblem.Create(StatusCodes.Status409Conflict, "ALREADY_CHECKED_IN", "Already checked in today", "Come back tomorrow to keep your streak going.");

    internal static async Task<Ok<CheckInStatus>> CheckInState(ClaimsPrincipal user, CheckIns checkIns, CancellationToken ct) =>
        TypedResults.Ok(await checkIns.StatusAsync(user.UserId(), ct));

    internal static async Task<Results<Created<CoinEntry>, ProblemHttpResult, ValidationProblem>> Adjust(
        AdjustmentRequest body, [FromHeader(Name = IdempotencyStore.Header)] string? idempotencyKey,
        ClaimsPrincipal user, Database db, CoinLedger ledger, UserDirectory users, CancellationToken ct)
    {
        var v = new RequestValidator()
            .Text("userId", body.UserId, 1, 64)
            .Range("amount", body.Amount, -10_000_000, 10_000_000)
            .Text("reason", body.Reason, 1, 200);
        if (body.Amount == 0)
        {
            v.Add("amount", "amount must not be 0.");
        }

        if (idempotencyKey is null || !IdempotencyStore.IsValidKey(idempotencyKey))
        {
            v.Add(IdempotencyStore.Header, "An Idempotency-Key of 1 to 255 visible ASCII characters is required; it is the adjustment's reference.");
        }

        if (!v.IsValid)
        {
            return ApiProblem.Validation(v.Errors);
        }

        if (await users.FindAsync(body.UserId!, ct) is null)
        {
            return ApiProblem.NotFound("USER_NOT_FOUND", "User");
        }

        var reference = $"{user.UserId()}:{idempotencyKey}";
        var outcome = await db.InTransactionAsync(async (c, tx) =>
        {
            var (status, entry) = await ledger.ApplyAsync(c, tx, body.UserId!, body.Amount!.Value, CoinSources.Adjustment, reference, ct);
            return status switch
            {
                CoinApplyStatus.Applied => new CommandOutcome<CoinEntry>(entry, null),
                CoinApplyStatus.Insufficient => CommandOutcome<CoinEntry>.Refused(ApiProblem.Create(StatusCodes.Status422UnprocessableEntity, "INSUFFICIENT_COINS",
                    "Not enough coins", "A debit may not take the balance below zero.")),
                _ => await CoinLedger.FindAsync(c, tx, CoinSources.Adjustment, reference, ct) is var existing && existing.UserId == body.UserId && existing.Amount == body.Amount
                    ? new CommandOutcome<CoinEntry>(existing, null, Replayed: true)
                    : CommandOutcome<CoinEntry>.Refused(IdempotencyStore.Mismatch()),
            };
        }, ct);
        return outcome.Value is null ? outcome.Problem! : TypedResults.Created($"/api/me/coins/transactions", outcome.Value);
    }
}
