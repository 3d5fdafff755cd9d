using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Pasar.Server.Platform.Auth;
using Pasar.Server.Platform.Http;

namespace Pasar.Server.Live;

internal sealed record CreateLiveSessionRequest(string? Title, DateTimeOffset? ScheduledAt = null);

internal sealed record CreatedLiveSession(string Id, string Status, string RtmpUrl, string StreamKey, string PlaybackUrl, DateTimeOffset? ScheduledAt);

internal sealed record StreamKeyResponse(string StreamKey);

public sealed record LiveViewers(long Current, long Peak);

public sealed record LiveSession(
    string Id,
    string SellerId,
    string Title,
    string Status,
    DateTimeOffset CreatedAt,
    DateTimeOffset? StartedAt,
    DateTimeOffset? EndedAt,
    string PlaybackUrl,
    string? ReplayUrl,
    LiveViewers Viewers,
    IReadOnlyList<object> Pinned,
    object? ActiveFlashSale,
    object? ActivePoll = null,
    object? ActiveGiveaway = null,
    DateTimeOffset? ScheduledAt = null,
    IReadOnlyList<object>? ActiveVouchers = null,
    object? ActiveAuction = null);

/// <summary>
/// What the live room adds to a session (viewers, pinned products, the active flash sale). LiveRoom implements
/// it, so Live does not depend on LiveRoom (LiveRoom builds on Live's sessions and events).
/// </summary>
internal interface ILiveRoomView
{
    Task<LiveSession> EnrichAsync(LiveSession session, CancellationToken ct);
}

internal static class LiveSessionsApi
{
    public static void MapLiveSessions(this IEndpointRouteBuilder app)
    {
        var sessions = app.MapGroup("/api/live/sessions").WithTags("Live");
        sessions.MapPost("/", Create).RequireAuthorization(Policies.Seller).WithSummary("Create a live session and its stream key (seller); with scheduledAt it is a scheduled show");
        sessions.MapGet("/", List).AllowAnonymous().WithSummary("Live sessions, newest first; ?status=live for those on air, ?status=scheduled for upcoming shows, soonest first");
        var session = app.MapGroup("/api/live/sessions/{id}").WithTags("Live").RequireId("id", "SESSION_NOT_FOUND", "Live session");
        session.MapGet("/", Get).AllowAnonymous().WithSummary("A live session with its playback and replay URLs");
        session.MapGet("/replay", GetReplay).AllowAnonymous().WithSummary("The replay of an ended session: its URL, length and product moments (pins and flash sales at their offsets)");
        session.MapPost("/stream-key/rotate", RotateKey).RequireAuthorization(Policies.User).WithSummary("Replace the stream key; the old one stops working (owner)");
        session.MapPost("/end", End).RequireAuthorization(Policies.User).WithSummary("End the session now (owner)");
    }

    internal static async Task<Results<Created<CreatedLiveSession>, ValidationProblem>> Create(
        CreateLiveSessionRequest body, ClaimsPrincipal user, HttpRequest request, LiveSessionStore store, RtmpEndpoint rtmp, PublicUrls urls, TimeProvider time, CancellationToken ct)
    {
        var v = new RequestValidator().Text("title", body.Title, 1, 200);
        if (body.ScheduledAt is not null && ShowSchedule.CheckTime(body.ScheduledAt, time.GetUtcNow()) is { } problem)
        {
            v.Add("scheduledAt", problem);
        }

        if (!v.IsValid)
        {
            return ApiProblem.Validation(v.Errors);
        }

        var key = LiveSessionStore.NewStreamKey();
        var row = await store.CreateAsync(user.UserId(), body.Title!.Trim(), key, ct, body.ScheduledAt);
        return TypedResults.Created($"/api/live/sessions/{row.Id}",
            new CreatedLiveSession(row.Id, row.Status, rtmp.UrlFor(urls.Host(request)), key, PlaybackUrl(row.Id), At(row.ScheduledAt)));
    }

    internal static async Task<Results<Ok<Page<LiveSession>>, ValidationProblem>> List(
        [FromQuery] string? status, [FromQuery] string? sellerId, [FromQuery] int? limit, [FromQuery] string? cursor,
        LiveSessionStore store, LiveIngest ingest, CancellationToken ct)
    {
        var v = new RequestValidator();
        var page = PageRequest.From(limit, cursor, v);
        if (status is not null && !LiveStatus.All.Contains(status))
        {
            v.Add("status", "status must be scheduled, created, live, ended or cancelled.");
        }

        v.Text("sellerId", sellerId, 1, 64, required: false);
        if (!v.IsValid)
        {
            return ApiProblem.Validation(v.Errors);
        }

        if (status == LiveStatus.Scheduled)
        {
            var upcoming = await store.ListScheduledAsync(sellerId, page, ct);
            return TypedResults.Ok(page.ToPage(upcoming, r => r.ScheduledAt!.Value, r => r.Id, r => ToSession(r, ingest)));
        }

        var rows = await store.ListAsync(status, sellerId, page, ct);
        return TypedResults.Ok(page.ToPage(rows, r => r.CreatedAt, r => r.Id, r => ToSession(r, ingest)));
    }

    internal static async Task<Results<Ok<LiveSession>, ProblemHttpResult>> Get(
        string id, LiveSessionStore store, LiveIngest ingest, ILiveRoomView room, CancellationToken ct)
    {
        var row = await store.FindAsync(id, ct);
        return row is null ? NotFound() : TypedResults.Ok(await room.EnrichAsync(ToSession(row, ingest), ct));
    }

    internal static async Task<Results<Ok<Replay>, ProblemHttpResult>> GetReplay(
        string id, LiveSessionStore store, LiveIngest ingest, ReplayMomentLog moments, CancellationToken ct)
    {
        var row = await store.FindAsync(id, ct);
        if (row is null)
        {
            return NotFound();
        }

        if (row.Status != LiveStatus.Ended)
        {
            return ApiProblem.Create(StatusCodes.Status409Conflict, "SESSION_NOT_ENDED", "The show has no replay yet", "A replay exists once the show has ended.");
        }

        var url = ToSession(row, ingest).ReplayUrl;
        var (duration, list) = await moments.ReadAsync(id, row.StartedAt, ct);
        if (url is null || duration is null)
        {
            return ApiProblem.Create(StatusCodes.Status409Conflict, "REPLAY_NOT_READY", "The replay is not ready",
                "The show ended but its recording is still being written (or it never went on air).");
        }

        return TypedResults.Ok(new Replay(url, duration.Value, list));
    }

    internal static async Task<Results<Ok<StreamKeyResponse>, ProblemHttpResult>> RotateKey(
        string id, ClaimsPrincipal user, LiveSessionStore store, CancellationToken ct)
    {
        var row = await store.FindAsync(id, ct);
        if (row is null)
        {
            return NotFound();
        }

        if (row.SellerId != user.UserId())
        {
            return ApiProblem.Forbidden("Only the session's seller can rotate its stream key.");
        }

        // A publisher already on air keeps going (its key was checked when it started); the next connect needs the new key.
        var key = LiveSessionStore.NewStreamKey();
        return await store.RotateKeyAsync(id, key, ct)
            ? TypedResults.Ok(new StreamKeyResponse(key))
            : SessionEnded();
    }

    internal static async Task<Results<Ok<LiveSession>, ProblemHttpResult>> End(
        string id, ClaimsPrincipal user, LiveSessionStore store, LiveIngest ingest, CancellationToken ct)
    {
        var row = await store.FindAsync(id, ct);
        if (row is null)
        {
            return NotFound();
        }

        if (row.SellerId != user.UserId())
        {
            return ApiProblem.Forbidden("Only the session's seller can end it.");
        }

        if (LiveStatus.IsOver(row.Status))
        {
            return SessionEnded();
        }

        await ingest.EndAsync(id, "owner", ct);
        return TypedResults.Ok(ToSession((await store.FindAsync(id, ct))!, ingest));
    }

    internal static ProblemHttpResult NotFound() => ApiProblem.NotFound("SESSION_NOT_FOUND", "Live session");

    private static ProblemHttpResult SessionEnded() =>
        ApiProblem.Create(StatusCodes.Status409Conflict, "SESSION_ENDED", "The live session has ended", "An ended session cannot be changed; create a new one.");

    internal static string PlaybackUrl(string id) => $"/hls/{id}/{HlsPackager.MasterFile}";

    internal static LiveSession ToSession(LiveSessionRow row, LiveIngest ingest)
    {
        string? replay = null;
        if (row.Status == LiveStatus.Ended && row.ReplayStoredAt is not null)
        {
            // In the object store: through the CDN when one is configured, else Pasar's route, which serves the
            // playlists and redirects each segment to a fresh presigned URL (ADR 0023).
            replay = ingest.Recordings.PublicUrl(Storage.RecordingStore.SessionKey(row.Id, HlsPackager.ReplayFile)) ?? $"/hls/{row.Id}/{HlsPackager.ReplayFile}";
        }
        else if (row.Status == LiveStatus.Ended && File.Exists(Path.Combine(ingest.SessionDirectory(row.Id), HlsPackager.ReplayFile)))
        {
            replay = $"/hls/{row.Id}/{HlsPackager.ReplayFile}";
        }

        // Viewers, pins and the flash sale belong to the live room; its ILiveRoomView fills them in.
        return new LiveSession(row.Id, row.SellerId, row.Title, row.Status, DateTimeOffset.FromUnixTimeMilliseconds(row.CreatedAt),
            At(row.StartedAt), At(row.EndedAt), PlaybackUrl(row.Id), replay, new LiveViewers(0, 0), [], null, ScheduledAt: At(row.ScheduledAt));
    }

    private static DateTimeOffset? At(long? ms) => ms is { } v ? DateTimeOffset.FromUnixTimeMilliseconds(v) : null;
}
