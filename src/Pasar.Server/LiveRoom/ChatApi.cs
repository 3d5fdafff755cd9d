using System.Security.Claims;
using System.Text.Json;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Pasar.Server.Platform.Auth;
using Pasar.Server.Platform.Http;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.LiveRoom;

internal static class ChatApi
{
    public static void MapChatApi(this IEndpointRouteBuilder app)
    {
        var session = app.MapGroup("/api/live/sessions/{id}").WithTags("Live room").RequireId("id", "SESSION_NOT_FOUND", "Live session");
        session.MapGet("/chat", History).AllowAnonymous().WithSummary("Chat history of a session, newest first");
        session.MapDelete("/chat/{messageId}", Delete).RequireAuthorization(Policies.User).WithSummary("Remove a message for everyone (owner, moderator or admin)");
        session.MapPost("/mutes", MuteUser).RequireAuthorization(Policies.User).WithSummary("Mute a user in this room for a while (owner, moderator or admin)");
        session.MapPut("/chat-settings", Settings).RequireAuthorization(Policies.User).WithSummary("Slow mode and blocked words of this room (owner, moderator or admin)");
    }

    internal static async Task<Results<Ok<Page<ChatMessage>>, ProblemHttpResult, ValidationProblem>> History(
        string id, [FromQuery] int? limit, [FromQuery] string? cursor, RoomSessions sessions, ChatMessages messages, CancellationToken ct)
    {
        var v = new RequestValidator();
        var page = PageRequest.From(limit, cursor, v);
        if (!v.IsValid)
        {
            return ApiProblem.Validation(v.Errors);
        }

        if (await sessions.FindAsync(id, ct) is not { } session)
        {
            return ApiProblem.NotFound("SESSION_NOT_FOUND", "Live session");
        }

        return TypedResults.Ok(await messages.PageAsync(session, page, ct));
    }

    internal static async Task<Results<NoContent, ProblemHttpResult>> Delete(
        string id, string messageId, ClaimsPrincipal user, RoomSessions sessions, SessionModerators moderators, ChatMessages messages, CancellationToken ct)
    {
        var (session, problem) = await ModeratedSessionAsync(id, user, sessions, moderators, ct);
        if (problem is not null)
        {
            return problem;
        }

        // A moderator keeps the chat clean; the seller's own words are the seller's to remove.
        var mayRemoveSellers = session!.SellerId == user.UserId() || user.IsAdmin();
        return await messages.RemoveAsync(session, messageId, mayRemoveSellers, ct) switch
        {
            ChatRemoval.Removed => TypedResults.NoContent(),
            ChatRemoval.SellersMessage => ApiProblem.Forbidden("A moderator cannot remove the seller's messages."),
            _ => ApiProblem.NotFound("MESSAGE_NOT_FOUND", "Chat message"),
        };
    }

    internal static async Task<Results<Created<Mute>, ProblemHttpResult, ValidationProblem>> MuteUser(
        string id, MuteRequest body, ClaimsPrincipal user, RoomSessions sessions, SessionModerators moderators, ChatService chat, TimeProvider time, CancellationToken ct)
    {
        var v = new RequestValidator()
            .Text("userId", body.UserId, 1, 64)
            .Range("durationSeconds", body.DurationSeconds, 1, (long)TimeSpan.FromDays(30).TotalSeconds);
        if (!v.IsValid)
        {
            return ApiProblem.Validation(v.Errors);
        }

        var (session, problem) = await ModeratedSessionAsync(id, user, sessions, moderators, ct);
        if (problem is not null)
        {
            return problem;
        }

        if (body.UserId == session!.SellerId)
        {
            return ApiProblem.Create(StatusCodes.Status409Conflict, "CANNOT_MUTE_OWNER", "The seller cannot be muted", "The seller of a show always has a voice in it.");
        }

        var until = time.GetUtcNow().AddSeconds(body.DurationSeconds!.Value);
        await chat.MuteAsync(id, body.UserId!, until, user.UserId(), ct);
        return TypedResults.Created($"/api/live/sessions/{id}/mutes/{body.UserId}", new Mute(id, body.UserId!, until));
    }

    internal static async Task<Results<Ok<ChatSettings>, ProblemHttpResult, ValidationProblem>> Settings(
        string id, ChatSettingsRequest body, ClaimsPrincipal user, RoomSessions sessions, SessionModerators moderators, ChatSettingsCache cache, RoomBroadcaster broadcaster, CancellationToken ct)
    {
        var v = new RequestValidator().Range("slowModeSeconds", body.SlowModeSeconds, 0, 3600);
        var words = (body.BlockedWords ?? []).Select(w => w?.Trim() ?? "").ToList();
        if (words.Count > 200 || words.Any(w => w.Length is 0 or > 50 || w.Any(char.IsControl)))
        {
            v.Add("blockedWords", "blockedWords is at most 200 words of 1 to 50 characters.");
        }

        if (!v.IsValid)
        {
            return ApiProblem.Validation(v.Errors);
        }

        if (await ModeratedSessionAsync(id, user, sessions, moderators, ct) is { Problem: { } problem })
        {
            return problem;
        }

        var settings = new ChatSettings(body.SlowModeSeconds!.Value, words.Distinct(StringComparer.OrdinalIgnoreCase).ToList());
        await cache.SaveAsync(id, settings, ct);
        // Tells the other nodes to drop their cached copy, and the room to show the new slow mode.
        await broadcaster.PublishAsync(RoomTarget.Session, id, "chatSettings", settings);
        return TypedResults.Ok(settings);
    }

    /// <summary>The session when the user may moderate its chat (owner, admin, or moderator, read in SQL now); else the problem.</summary>
    private static async Task<(RoomSession? Session, ProblemHttpResult? Problem)> ModeratedSessionAsync(
        string id, ClaimsPrincipal user, RoomSessions sessions, SessionModerators moderators, CancellationToken ct)
    {
        var session = await sessions.FindAsync(id, ct);
        if (session is null)
        {
            return (null, ApiProblem.NotFound("SESSION_NOT_FOUND", "Live session"));
        }

        return await moderators.MayModerateChatAsync(session, user, ct)
            ? (session, null)
            : (session, ApiProblem.Forbidden("Only the session's seller, its moderators or an admin can do this."));
    }
}
