using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Pasar.Server.Platform.Auth;
using Pasar.Server.Platform.Http;

namespace Pasar.Server.Live;

internal sealed record RescheduleRequest(DateTimeOffset? ScheduledAt);

internal sealed record ReminderState(bool Subscribed, long Subscribers);

/// <summary>Scheduled shows (SPEC §14): moving and cancelling one, and "notify me".</summary>
internal static class ScheduledShowsApi
{
    public static void MapScheduledShows(this IEndpointRouteBuilder app)
    {
        var sessions = app.MapGroup("/api/live/sessions/{id}").WithTags("Live").RequireId("id", "SESSION_NOT_FOUND", "Live session");
        sessions.MapPatch("/", Reschedule).RequireAuthorization(Policies.User).WithSummary("Move a scheduled show to another time (owner); subscribers are told");
        sessions.MapDelete("/", Cancel).RequireAuthorization(Policies.User).WithSummary("Cancel a scheduled show (owner); subscribers are told");
        sessions.MapPut("/reminders", Subscribe).RequireAuthorization(Policies.User).WithSummary("Notify me: SHOW_STARTING before a scheduled show and SELLER_LIVE when it goes live");
        sessions.MapDelete("/reminders", Unsubscribe).RequireAuthorization(Policies.User).WithSummary("Stop notifying me about this show");
        sessions.MapGet("/reminders", State).RequireAuthorization(Policies.User).WithSummary("Whether I asked to be notified about this show, and how many did");
    }

    internal static async Task<Results<Ok<LiveSession>, ProblemHttpResult, ValidationProblem>> Reschedule(
        string id, RescheduleRequest body, ClaimsPrincipal user, LiveSessionStore store, ShowSchedule schedule, LiveIngest ingest, ILiveRoomView room,
        TimeProvider time, CancellationToken ct)
    {
        var row = await store.FindAsync(id, ct);
        if (row is null)
        {
            return LiveSessionsApi.NotFound();
        }

        if (row.SellerId != user.UserId())
        {
            return ApiProblem.Forbidden("Only the show's seller can move it.");
        }

        if (ShowSchedule.CheckTime(body.ScheduledAt, time.GetUtcNow()) is { } problem)
        {
            return ApiProblem.Validation(new Dictionary<string, string[]> { ["scheduledAt"] = [problem] });
        }

        if (row.Status != LiveStatus.Scheduled || !await schedule.RescheduleAsync(id, body.ScheduledAt!.Value, ct))
        {
            return NotScheduled();
        }

        return TypedResults.Ok(await room.EnrichAsync(LiveSessionsApi.ToSession((await store.FindAsync(id, ct))!, ingest), ct));
    }

    internal static async Task<Results<NoContent, ProblemHttpResult>> Cancel(
        string id, ClaimsPrincipal user, LiveSessionStore store, ShowSchedule schedule, CancellationToken ct)
    {
        var row = await store.FindAsync(id, ct);
        if (row is null)
        {
            return LiveSessionsApi.NotFound();
        }

        if (row.SellerId != user.UserId())
        {
            return ApiProblem.Forbidden("Only the show's seller can cancel it.");
        }

        return row.Status == LiveStatus.Scheduled && await schedule.CancelAsync(id, "owner", ct) ? TypedResults.NoContent() : NotScheduled();
    }

    internal static async Task<Results<NoContent, ProblemHttpResult>> Subscribe(
        string id, ClaimsPrincipal user, LiveSessionStore store, ShowSchedule schedule, CancellationToken ct)
    {
        var row = await store.FindAsync(id, ct);
        if (row is null)
        {
            return LiveSessionsApi.NotFound();
        }

        return await schedule.SubscribeAsync(id, user.UserId(), ct) ? TypedResults.NoContent() : NotScheduled();
    }

    internal static async Task<Results<NoContent, ProblemHttpResult>> Unsubscribe(
        string id, ClaimsPrincipal user, LiveSessionStore store, ShowSchedule schedule, CancellationToken ct)
    {
        var row = await store.FindAsync(id, ct);
        if (row is null)
        {
            return LiveSessionsApi.NotFound();
        }

        await schedule.UnsubscribeAsync(id, user.UserId(), ct);
        return TypedResults.NoContent();
    }

    internal static async Task<Results<Ok<ReminderState>, ProblemHttpResult>> State(
        string id, ClaimsPrincipal user, LiveSessionStore store, ShowSchedule schedule, CancellationToken ct)
    {
        var row = await store.FindAsync(id, ct);
        if (row is null)
        {
            return LiveSessionsApi.NotFound();
        }

        var (subscribed, subscribers) = await schedule.ReminderStateAsync(id, user.UserId(), ct);
        return TypedResults.Ok(new ReminderState(subscribed, subscribers));
    }

    private static ProblemHttpResult NotScheduled() =>
        ApiProblem.Create(StatusCodes.Status409Conflict, "SESSION_NOT_SCHEDULED", "The show is not scheduled",
            "Only a scheduled show that has not started can be moved, cancelled or subscribed to.");
}
