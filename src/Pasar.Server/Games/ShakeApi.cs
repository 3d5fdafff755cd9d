using System.Security.Claims;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Pasar.Server.Coins;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Auth;
using Pasar.Server.Platform.Http;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Games;

internal sealed record ShakeRequest(int? ShakePower);

internal sealed record ShakeResult(long CoinsWon, int RemainingPlays, bool Jackpot);

internal sealed class ShakeOptions
{
    public long DailyBudget { get; set; } = 1_000_000;
    public int PlaysPerDay { get; set; } = 3;
}

internal static class ShakeApi
{
    public static void MapShake(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/games/shake", Shake).WithTags("Games").RequireAuthorization(Policies.User)
            .WithSummary("Play Shake-Shake: 3 plays per region day; 429 DAILY_LIMIT with Retry-After after that");
    }

    internal static async Task<Results<Ok<ShakeResult>, ProblemHttpResult, ValidationProblem>> Shake(
        ShakeRequest body, ClaimsPrincipal user, HttpContext http, ShakeGate gate, IShakeRandom random, RegionClock clock,
        Database db, CoinLedger ledger, IOptions<ShakeOptions> options, PasarMetrics metrics, CancellationToken ct)
    {
        var v = new RequestValidator().Range("shakePower", body.ShakePower, 0, 100);
        if (!v.IsValid)
        {
            return ApiProblem.Validation(v.Errors);
        }

        var userId = user.UserId();
        var day = RegionClock.Key(clock.Today());
        var rules = options.Value;
        var draw = ShakeRewards.Draw(random, body.ShakePower!.Value);

        for (var attempt = 0; attempt < 4; attempt++)
        {
            var (result, playNo, coins) = await gate.TryTakeAsync(userId, day, rules.PlaysPerDay, rules.DailyBudget, draw.Coins);
            if (result == ShakeGate.Result.NeedsPlaysSeed)
            {
                await gate.SeedPlaysAsync(userId, day, await PlaysTodayAsync(db, userId, day, ct));
                continue;
            }

            if (result == ShakeGate.Result.NeedsPaidSeed)
            {
                await gate.SeedPaidAsync(userId, day, await PaidTodayAsync(db, day, ct));
                continue;
            }

            if (result == ShakeGate.Result.LimitReached)
            {
                return DailyLimit(http, clock);
            }

            bool recorded;
            try
            {
                recorded = await RecordAsync(db, ledger, clock, userId, day, playNo, body.ShakePower.Value, draw, coins, ct);
            }
            catch
            {
                await gate.ReleaseAsync(userId, day, coins);
                throw;
            }

            if (recorded)
            {
                metrics.ShakePlays.Add(1, new KeyValuePair<string, object?>("band", draw.Band.ToString()));
                return TypedResults.Ok(new ShakeResult(coins, rules.PlaysPerDay - playNo, draw.Jackpot));
            }

            // SQL already holds this play number: the gate was behind SQL (hot state lost mid-play). SQL wins.
            await gate.ReleaseAsync(userId, day, coins);
            await gate.ResyncPlaysAsync(userId, day, await PlaysTodayAsync(db, userId, day, ct));
        }

        return DailyLimit(http, clock);
    }

    private static ProblemHttpResult DailyLimit(HttpContext http, RegionClock clock)
    {
        var seconds = clock.SecondsUntilNextMidnight();
        http.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return ApiProblem.Create(StatusCodes.Status429TooManyRequests, "DAILY_LIMIT", "No plays left today",
            "You have used today's Shake-Shake plays. New plays come at midnight.", new Dictionary<string, object?> { ["retryAfterSeconds"] = seconds });
    }

    private static async Task<bool> RecordAsync(Database db, CoinLedger ledger, RegionClock clock, string userId, string day, int playNo, int power, ShakeDraw draw, long coins, CancellationToken ct) =>
        await db.InTransactionAsync(async (c, tx) =>
        {
            var id = Ids.New();
            var inserted = await c.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO shake_plays (id, user_id, day, play_no, shake_power, band, coins, created_at)
                VALUES (@id, @userId, @day, @playNo, @power, @band, @coins, @at) ON CONFLICT DO NOTHING
                """,
                new { id, userId, day, playNo, power, band = draw.Band.ToString(), coins, at = clock.Time.GetUtcNow().ToUnixTimeMilliseconds() },
                tx, cancellationToken: ct));
            if (inserted == 0)
            {
                return false;
            }

            if (coins > 0)
            {
                await ledger.ApplyAsync(c, tx, userId, coins, CoinSources.Shake, id, ct);
            }

            return true;
        }, ct);

    private static async Task<long> PlaysTodayAsync(Database db, string userId, string day, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return await c.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM shake_plays WHERE user_id = @userId AND day = @day", new { userId, day }, cancellationToken: ct));
    }

    private static async Task<long> PaidTodayAsync(Database db, string day, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return await c.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COALESCE(SUM(coins), 0) FROM shake_plays WHERE day = @day", new { day }, cancellationToken: ct));
    }
}
