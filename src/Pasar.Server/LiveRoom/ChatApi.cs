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
        var session = app.MapGroup("/api/live/sessions/{id}").WithTags("Live room");
        session.MapGet("/chat", History).AllowAnonymous().WithSummary("Chat history of a session, newest first");
        session.MapDelete("/chat/{messageId}", Delete).RequireAuthorization(Policies.User).WithSummary("Remove a message for everyone (owner, moderator or admin)");
        session.MapPost("/mutes", MuteUser).RequireAuthorization(Policies.User).WithSummary("Mute a user in this room for a while (owner, moderator or admin)");
        session.MapPut("/chat-settings", Settings).RequireAuthorization(Policies.User).WithSummary("Slow mode and blocked words of this room (owner, moderator or admin)");
    }

    internal static async Task<Results<Ok<Page<ChatMessage>>, ProblemHttpResult, ValidationProblem>> History(
        string id, [FromQuery] int? limit, [FromQuery] string? cursor, RoomSessions sessions, ChatWriter writer, Database db, CancellationToken ct)
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

        await writer.FlushAsync();
        await using var c = await db.OpenAsync(ct);
        var rows = await ChatHistory.QueryAsync(c, id, page.BeforeTime, page.BeforeId, page.FetchSize, ct);
        return TypedResults.Ok(page.ToPage(rows, r => r.SentAt, r => r.Id, r => r.ToMessage(session.SellerId)));
    }

    internal static async Task<Results<NoContent, ProblemHttpResult>> Delete(
        string id, string messageId, ClaimsPrincipal user, RoomSessions sessions, SessionModerators moderators, ChatWriter writer, Database db,
        RoomBroadcaster broadcaster, TimeProvider time, CancellationToken ct)
    {
        var (session, problem) = await ModeratedSessionAsync(id, user, sessions, moderators, ct);
        if (problem is not null)
        {
            return problem;
        }

        // A moderator keeps the chat clean; the seller's own words are the seller's to remove.
        var seller = session!.SellerId;
        var mayRemoveSeller = seller == user.UserId() || user.IsAdmin();
        await writer.FlushAsync(); // a message sent a moment ago is in SQL before we mark it
        var deleted = await db.InTransactionAsync(async (c, tx) => await c.ExecuteAsync(new CommandDefinition(
            "UPDATE chat_messages SET deleted_at = @now WHERE id = @messageId AND session_id = @id AND deleted_at IS NULL AND (@mayRemoveSeller OR user_id <> @seller)",
            new { now = time.GetUtcNow().ToUnixTimeMilliseconds(), messageId, id, mayRemoveSeller, seller }, tx, cancellationToken: ct)), ct);
        if (deleted == 0 && !mayRemoveSeller && await IsSellersMessageAsync(db, id, messageId, seller, ct))
        {
            return ApiProblem.Forbidden("A moderator cannot remove the seller's messages.");
        }

        if (deleted == 0)
        {
            return ApiProblem.NotFound("MESSAGE_NOT_FOUND", "Chat message");
        }

        await broadcaster.PublishAsync(RoomTarget.Session, id, "chatDeleted", new ChatDeleted(id, messageId));
        return TypedResults.NoContent();
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
        string id, ChatSettingsRequest body, ClaimsPrincipal user, RoomSessions sessions, SessionModerators moderators, Database db, ChatSettingsCache cache, RoomBroadcaster broadcaster, TimeProvider time, CancellationToken ct)
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
        await db.InTransactionAsync(async (c, tx) => await c.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO chat_settings (session_id, slow_mode_seconds, blocked_words, updated_at) VALUES (@id, @slow, @words, @now)
            ON CONFLICT (session_id) DO UPDATE SET slow_mode_seconds = excluded.slow_mode_seconds, blocked_words = excluded.blocked_words, updated_at = excluded.updated_at
            """,
            new { id, slow = settings.SlowModeSeconds, words = JsonSerializer.Serialize(settings.BlockedWords), now = time.GetUtcNow().ToUnixTimeMilliseconds() },
            tx, cancellationToken: ct)), ct);
        cache.Invalidate(id);
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

    private static async Task<bool> IsSellersMessageAsync(Database db, string id, string messageId, string seller, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return await c.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM chat_messages WHERE id = @messageId AND session_id = @id AND user_id = @seller AND deleted_at IS NULL",
            new { messageId, id, seller }, cancellationToken: ct)) > 0;
    }
}
