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
        [FromQuery] int? limit, [FromQuery] string? cursor, ClaimsPrincipal user, Database db, CancellationToken ct)
    {
        if (PagedQuery.Bind(limit, cursor, out var invalid) is not { } page)
        {
            return invalid!;
        }

        return TypedResults.Ok(await db.QueryPageAsync<CoinLedger.EntryRow, CoinEntry>(page,
            $"SELECT {CoinLedger.EntryColumns} FROM coin_ledger WHERE user_id = @userId AND {page.Condition("created_at", "id")} ORDER BY created_at DESC, id DESC LIMIT @fetch",
            new { userId = user.UserId() }, r => r.CreatedAt, r => r.Id, r => r.ToEntry(), ct));
    }

    internal static async Task<Results<Created<CheckInResult>, ProblemHttpResult>> CheckIn(
        ClaimsPrincipal user, Database db, CoinLedger ledger, RegionClock clock, CancellationToken ct)
    {
        var userId = user.UserId();
        var today = clock.Today();
        var outcome = await db.InTransactionAsync(async (c, tx) =>
        {
            var last = await c.QuerySingleOrDefaultAsync<(string Day, long StreakDay)?>(new CommandDefinition(
                "SELECT day, streak_day FROM check_ins WHERE user_id = @userId ORDER BY day DESC LIMIT 1", new { userId }, tx, cancellationToken: ct));
            if (last?.Day == RegionClock.Key(today))
            {
                return CommandOutcome<CheckInResult>.Refused(AlreadyCheckedIn());
            }

            var streak = last?.Day == RegionClock.Key(today.AddDays(-1)) ? (int)last.Value.StreakDay + 1 : 1;
            var (coins, bonus) = CheckInRewards.For(streak);
            var result = new CheckInResult(streak, CheckInRewards.CycleDay(streak), coins, bonus, RegionClock.Key(today));
            // The (user, day) primary key is what makes simultaneous check-ins give exactly one award.
            var inserted = await c.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO check_ins (user_id, day, streak_day, cycle_day, coins, bonus, created_at)
                VALUES (@userId, @Date, @StreakDay, @CycleDay, @Coins, @bonus, @at) ON CONFLICT DO NOTHING
                """,
                new { userId, result.Date, result.StreakDay, result.CycleDay, result.Coins, bonus = bonus ? 1 : 0, at = clock.Time.GetUtcNow().ToUnixTimeMilliseconds() },
                tx, cancellationToken: ct));
            if (inserted == 0)
            {
                return CommandOutcome<CheckInResult>.Refused(AlreadyCheckedIn());
            }

            await ledger.ApplyAsync(c, tx, userId, coins, CoinSources.CheckIn, $"{userId}:{result.Date}", ct);
            return new CommandOutcome<CheckInResult>(result, null);
        }, ct);
        return outcome.Value is null ? outcome.Problem! : TypedResults.Created("/api/me/check-ins", outcome.Value);
    }

    private static ProblemHttpResult AlreadyCheckedIn() =>
        ApiProblem.Create(StatusCodes.Status409Conflict, "ALREADY_CHECKED_IN", "Already checked in today", "Come back tomorrow to keep your streak going.");

    internal static async Task<Ok<CheckInStatus>> CheckInState(ClaimsPrincipal user, Database db, RegionClock clock, CancellationToken ct)
    {
        var today = clock.Today();
        await using var c = await db.OpenAsync(ct);
        var recent = (await c.QueryAsync<(string Day, long StreakDay, long Coins)>(new CommandDefinition(
            "SELECT day, streak_day, coins FROM check_ins WHERE user_id = @userId ORDER BY day DESC LIMIT 30",
            new { userId = user.UserId() }, cancellationToken: ct))).AsList();
        var todayKey = RegionClock.Key(today);
        var checkedInToday = recent.Count > 0 && recent[0].Day == todayKey;
        var streakAlive = recent.Count > 0 && (checkedInToday || recent[0].Day == RegionClock.Key(today.AddDays(-1)));
        var streak = streakAlive ? (int)recent[0].StreakDay : 0;
        var (next, nextBonus) = CheckInRewards.For(streak + 1);
        return TypedResults.Ok(new CheckInStatus(streak, checkedInToday, next, nextBonus, recent.Select(r => new CheckInDay(r.Day, r.Coins)).ToList()));
    }

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
                _ => await ExistingAsync(c, tx, reference, ct) is var existing && existing.UserId == body.UserId && existing.Amount == body.Amount
                    ? new CommandOutcome<CoinEntry>(existing, null, Replayed: true)
                    : CommandOutcome<CoinEntry>.Refused(IdempotencyStore.Mismatch()),
            };
        }, ct);
        return outcome.Value is null ? outcome.Problem! : TypedResults.Created($"/api/me/coins/transactions", outcome.Value);
    }

    private static async Task<CoinEntry> ExistingAsync(System.Data.Common.DbConnection c, System.Data.Common.DbTransaction tx, string reference, CancellationToken ct) =>
        (await c.QuerySingleAsync<CoinLedger.EntryRow>(new CommandDefinition(
            $"SELECT {CoinLedger.EntryColumns} FROM coin_ledger WHERE source = 'ADJUSTMENT' AND reference = @reference",
            new { reference }, tx, cancellationToken: ct))).ToEntry();
}
