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
        app.MapGroup("/api/games/shake").WithTags("Games").RequireAuthorization(Policies.User)
            .MapPost("/", Shake).WithSummary("Play Shake-Shake: 3 plays per region day; 429 DAILY_LIMIT with Retry-After after that");
    }

    internal static async Task<Results<Ok<ShakeResult>, ProblemHttpResult, ValidationProblem>> Shake(
        ShakeRequest body, ClaimsPrincipal user, HttpContext http, ShakePlays plays, RegionClock clock, CancellationToken ct)
    {
        var v = new RequestValidator().Range("shakePower", body.ShakePower, 0, 100);
        if (!v.IsValid)
        {
            return ApiProblem.Validation(v.Errors);
        }

        return await plays.PlayAsync(user.UserId(), body.ShakePower!.Value, ct) is { } result ? TypedResults.Ok(result) : DailyLimit(http, clock);
    }

    private static ProblemHttpResult DailyLimit(HttpContext http, RegionClock clock)
    {
        var seconds = clock.SecondsUntilNextMidnight();
        http.Response.Headers.RetryAfter = seconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return ApiProblem.Create(StatusCodes.Status429TooManyRequests, "DAILY_LIMIT", "No plays left today",
            "You have used today's Shake-Shake plays. New plays come at midnight.", new Dictionary<string, object?> { ["retryAfterSeconds"] = seconds });
    }
}
