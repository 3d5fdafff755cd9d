using System.Collections.Concurrent;
using System.Security.Claims;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.SignalR;
using Pasar.Server.Live;
using Pasar.Server.Platform.Auth;
using Pasar.Server.Platform.Http;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.LiveRoom;

/// <summary>
/// Whether a user moderates a live session (SPEC §14), for the modules whose actions a moderator may take (polls).
/// The answer is read from SQL each time: a removed moderator loses the right on every node at once.
/// </summary>
internal interface ISessionModerators
{
    Task<bool> IsModeratorAsync(string sessionId, string userId, CancellationToken ct);
}

/// <summary>A live session's moderators changed; nodes drop their cached copy (for chat marks only, never rights).</summary>
public sealed record ModeratorsChanged(string SessionId);

/// <summary>Pushed to one user's open pages when they are appointed or removed as a moderator of a session.</summary>
public sealed record ModeratorStatus(string SessionId, bool Moderator);

internal sealed record Moderator(string UserId, string UserName, DateTimeOffset AppointedAt);

internal static class ChatRoles
{
    public const string Seller = "seller";
    public const string Moderator = "moderator";
    public const string Viewer = "viewer";
}

/// <summary>
/// The moderators of each live session, table <c>live_moderators</c>. Rights (<see cref="IsModeratorAsync"/>) come
/// from SQL on every request; only the mark on chat messages (<see cref="RoleOfAsync"/>, on the hot path of every
/// message) uses a per-node copy, dropped on every node by a <c>moderatorsChanged</c> room event and kept at most
/// <see cref="Fresh"/> in case that event was lost in a Redis outage.
/// </summary>
internal sealed class SessionModerators(Database database, TimeProvider time) : ISessionModerators
{
    /// <summary>Moderators one session may have.</summary>
    public const int MaxPerSession = 20;

    private static readonly TimeSpan Fresh = TimeSpan.FromSeconds(5);
    private const int MaxEntries = 10_000;
    private readonly ConcurrentDictionary<string, (HashSet<string> Ids, long At)> _marks = new(StringComparer.Ordinal);

    public enum Outcome
    {
        Done,
        UserNotFound,
        TooMany,
    }

    public async Task<bool> IsModeratorAsync(string sessionId, string userId, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        return await c.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM live_moderators WHERE session_id = @sessionId AND user_id = @userId", new { sessionId, userId }, cancellationToken: ct)) > 0;
    }

    /// <summary>The role shown on a chat message of <paramref name="userId"/> in <paramref name="session"/>.</summary>
    public async Task<string> RoleOfAsync(RoomSession session, string userId, CancellationToken ct)
    {
        if (session.SellerId == userId)
        {
            return ChatRoles.Seller;
        }

        if (!_marks.TryGetValue(session.Id, out var hit) || time.GetElapsedTime(hit.At) >= Fresh)
        {
            var at = time.GetTimestamp();
            await using var c = await database.OpenAsync(ct);
            var ids = (await c.QueryAsync<string>(new CommandDefinition(
                "SELECT user_id FROM live_moderators WHERE session_id = @sessionId", new { sessionId = session.Id }, cancellationToken: ct))).ToHashSet(StringComparer.Ordinal);
            hit = (ids, at);
            if (_marks.Count >= MaxEntries)
            {
                foreach (var (id, entry) in _marks)
                {
                    if (time.GetElapsedTime(entry.At) >= Fresh)
                    {
                        _marks.TryRemove(id, out _);
                    }
                }
            }

            if (_marks.Count < MaxEntries)
            {
                _marks[session.Id] = hit;
            }
        }

        return hit.Ids.Contains(userId) ? ChatRoles.Moderator : ChatRoles.Viewer;
    }

    public void Observe(RoomTarget target, string id, string method, object payload)
    {
        if (target == RoomTarget.Session && (method == "moderatorsChanged" || payload is SessionStatusChanged { Status: LiveStatus.Ended }))
        {
            _marks.TryRemove(id, out _);
        }
    }

    public async Task<Outcome> AppointAsync(string sessionId, string userId, string appointedBy, CancellationToken ct) =>
        await database.InTransactionAsync(async (c, tx) =>
        {
            if (!await UserDirectory.ExistsAsync(c, tx, userId, ct))
            {
                return Outcome.UserNotFound;
            }

            await c.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO live_moderator_versions (session_id, version) VALUES (@sessionId, 1)
                ON CONFLICT (session_id) DO UPDATE SET version = live_moderator_versions.version + 1
                """, new { sessionId }, tx, cancellationToken: ct));
            var count = await c.ExecuteScalarAsync<long>(new CommandDefinition(
                "SELECT COUNT(*) FROM live_moderators WHERE session_id = @sessionId AND user_id <> @userId", new { sessionId, userId }, tx, cancellationToken: ct));
            if (count >= MaxPerSession)
            {
                return Outcome.TooMany;
            }

            // Appointing a moderator again changes nothing (PUT is idempotent).
            await c.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO live_moderators (session_id, user_id, appointed_by, appointed_at) VALUES (@sessionId, @userId, @appointedBy, @now)
                ON CONFLICT (session_id, user_id) DO NOTHING
                """, new { sessionId, userId, appointedBy, now = time.GetUtcNow().ToUnixTimeMilliseconds() }, tx, cancellationToken: ct));
            return Outcome.Done;
        }, ct);

    public async Task RemoveAsync(string sessionId, string userId, CancellationToken ct) =>
        await database.InTransactionAsync(async (c, tx) => await c.ExecuteAsync(new CommandDefinition(
            "DELETE FROM live_moderators WHERE session_id = @sessionId AND user_id = @userId", new { sessionId, userId }, tx, cancellationToken: ct)), ct);

    public async Task<IReadOnlyList<Moderator>> ListAsync(string sessionId, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        var rows = (await c.QueryAsync<(string UserId, long AppointedAt)>(new CommandDefinition(
            "SELECT user_id, appointed_at FROM live_moderators WHERE session_id = @sessionId ORDER BY appointed_at, user_id", new { sessionId }, cancellationToken: ct))).AsList();
        var names = await UserDirectory.NamesAsync(c, rows.Select(r => r.UserId).ToList(), ct);
        return rows.Select(r => new Moderator(r.UserId, names.GetValueOrDefault(r.UserId, r.UserId), DateTimeOffset.FromUnixTimeMilliseconds(r.AppointedAt))).ToList();
    }

    internal int CachedSessions => _marks.Count;

    /// <summary>For the chat routes: the owner, an admin, or a moderator of the session (read in SQL now).</summary>
    internal async Task<bool> MayModerateChatAsync(RoomSession session, ClaimsPrincipal user, CancellationToken ct) =>
        session.SellerId == user.UserId() || user.IsAdmin() || await IsModeratorAsync(session.Id, user.UserId(), ct);
}

/// <summary>
/// <c>/api/live/sessions/{id}/moderators</c> (SPEC §14): the owner appoints, lists and removes moderators;
/// any signed-in user may ask whether they moderate a session (<c>GET …/moderators/me</c>, for the room page).
/// </summary>
internal static class ModeratorsApi
{
    public static void MapModerators(this IEndpointRouteBuilder app)
    {
        var moderators = app.MapGroup("/api/live/sessions/{id}/moderators").WithTags("Live room").RequireAuthorization(Policies.User).RequireId("id", "SESSION_NOT_FOUND", "Live session");
        moderators.MapGet("/", List).WithName("ListModerators").WithSummary("The moderators of your live session (owner)");
        moderators.MapGet("/me", Me).WithName("MyModeratorStatus").WithSummary("Whether you moderate this live session");
        moderators.MapPut("/{userId}", Appoint).WithName("AppointModerator")
            .WithSummary("Appoint a moderator (owner): they may delete chat, mute, change chat settings and run polls; nothing else");
        moderators.MapDelete("/{userId}", Remove).WithName("RemoveModerator").WithSummary("Remove a moderator (owner); their rights end at once");
    }

    internal static async Task<Results<Ok<Page<Moderator>>, ProblemHttpResult>> List(
        string id, ClaimsPrincipal user, RoomSessions sessions, SessionModerators moderators, CancellationToken ct)
    {
        if (await OwnerOnlyAsync(id, user, sessions, ct) is { Problem: { } problem })
        {
            return problem;
        }

        return TypedResults.Ok(new Page<Moderator>(await moderators.ListAsync(id, ct), null));
    }

    internal static async Task<Results<Ok<ModeratorStatus>, ProblemHttpResult>> Me(
        string id, ClaimsPrincipal user, RoomSessions sessions, SessionModerators moderators, CancellationToken ct)
    {
        var session = HubLimits.IsValidId(id) ? await sessions.FindAsync(id, ct) : null;
        if (session is null)
        {
            return ApiProblem.NotFound("SESSION_NOT_FOUND", "Live session");
        }

        return TypedResults.Ok(new ModeratorStatus(id, await moderators.IsModeratorAsync(id, user.UserId(), ct)));
    }

    internal static async Task<Results<NoContent, ProblemHttpResult, ValidationProblem>> Appoint(
        string id, string userId, ClaimsPrincipal user, RoomSessions sessions, SessionModerators moderators, RoomBroadcaster broadcaster,
        IHubContext<LiveHub> hub, CancellationToken ct)
    {
        if (!IsValidUserId(userId))
        {
            return ApiProblem.Validation(new Dictionary<string, string[]> { ["userId"] = ["userId is 1 to 64 characters without control characters."] });
        }

        var (session, problem) = await OwnerOnlyAsync(id, user, sessions, ct);
        if (problem is not null)
        {
            return problem;
        }

        if (session!.SellerId == userId)
        {
            return ApiProblem.Create(StatusCodes.Status409Conflict, "CANNOT_APPOINT_OWNER", "The owner is not a moderator",
                "You run this show already; appoint someone else.");
        }

        if (session.Status is LiveStatus.Ended or "cancelled")
        {
            return ApiProblem.Create(StatusCodes.Status409Conflict, "SESSION_ENDED", "The session is over", "Moderators are appointed for a show that has not ended.");
        }

        switch (await moderators.AppointAsync(id, userId, user.UserId(), ct))
        {
            case SessionModerators.Outcome.UserNotFound:
                return ApiProblem.NotFound("USER_NOT_FOUND", "User");
            case SessionModerators.Outcome.TooMany:
                return ApiProblem.Create(StatusCodes.Status409Conflict, "TOO_MANY_MODERATORS", "Too many moderators",
                    $"A show has at most {SessionModerators.MaxPerSession} moderators; remove one first.");
        }

        await AnnounceAsync(id, userId, true, broadcaster, hub);
        return TypedResults.NoContent();
    }

    internal static async Task<Results<NoContent, ProblemHttpResult, ValidationProblem>> Remove(
        string id, string userId, ClaimsPrincipal user, RoomSessions sessions, SessionModerators moderators, RoomBroadcaster broadcaster,
        IHubContext<LiveHub> hub, CancellationToken ct)
    {
        if (!IsValidUserId(userId))
        {
            return ApiProblem.Validation(new Dictionary<string, string[]> { ["userId"] = ["userId is 1 to 64 characters without control characters."] });
        }

        if (await OwnerOnlyAsync(id, user, sessions, ct) is { Problem: { } problem })
        {
            return problem;
        }

        // Removing someone who is not a moderator is already done: 204 either way (DELETE is idempotent).
        await moderators.RemoveAsync(id, userId, ct);
        await AnnounceAsync(id, userId, false, broadcaster, hub);
        return TypedResults.NoContent();
    }

    private static async Task AnnounceAsync(string sessionId, string userId, bool moderator, RoomBroadcaster broadcaster, IHubContext<LiveHub> hub)
    {
        // The room event carries no user id (the list is the owner's to read); it tells every node to drop its copy.
        await broadcaster.PublishAsync(RoomTarget.Session, sessionId, "moderatorsChanged", new ModeratorsChanged(sessionId));
        await hub.Clients.User(userId).SendAsync("moderatorStatus", new ModeratorStatus(sessionId, moderator));
    }

    private static bool IsValidUserId(string userId) => userId.Length is > 0 and <= 64 && !userId.Any(char.IsControl) && userId.Trim() == userId;

    private static async Task<(RoomSession? Session, ProblemHttpResult? Problem)> OwnerOnlyAsync(string id, ClaimsPrincipal user, RoomSessions sessions, CancellationToken ct)
    {
        var session = HubLimits.IsValidId(id) ? await sessions.FindAsync(id, ct) : null;
        if (session is null)
        {
            return (null, ApiProblem.NotFound("SESSION_NOT_FOUND", "Live session"));
        }

        return session.SellerId == user.UserId() ? (session, null) : (session, ApiProblem.Forbidden("Only the session's seller manages its moderators."));
    }
}
