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
        session.MapDelete("/chat/{messageId}", Delete).RequireAuthorization(Policies.User).WithSummary("Remove a message for everyone (owner or admin)");
        session.MapPost("/mutes", MuteUser).RequireAuthorization(Policies.User).WithSummary("Mute a user in this room for a while (owner or admin)");
        session.MapPut("/chat-settings", Settings).RequireAuthorization(Policies.User).WithSummary("Slow mode and blocked words of this room (owner or admin)");
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

        if (await sessions.FindAsync(id, ct) is null)
        {
            return ApiProblem.NotFound("SESSION_NOT_FOUND", "Live session");
        }

        await writer.FlushAsync();
        await using var c = await db.OpenAsync(ct);
        var rows = await ChatHistory.QueryAsync(c, id, page.BeforeTime, page.BeforeId, page.FetchSize, ct);
        return TypedResults.Ok(page.ToPage(rows, r => r.SentAt, r => r.Id, r => r.ToMessage()));
    }

    internal static async Task<Results<NoContent, ProblemHttpResult>> Delete(
        string id, string messageId, ClaimsPrincipal user, RoomSessions sessions, ChatWriter writer, Database db, RoomBroadcaster broadcaster, TimeProvider time, CancellationToken ct)
    {
        if (await PinsApi.OwnedSessionAsync(id, user, sessions, ct, allowAdmin: true) is { } problem)
        {
            return problem;
        }

        await writer.FlushAsync(); // a message sent a moment ago is in SQL before we mark it
        var deleted = await db.InTransactionAsync(async (c, tx) => await c.ExecuteAsync(new CommandDefinition(
            "UPDATE chat_messages SET deleted_at = @now WHERE id = @messageId AND session_id = @id AND deleted_at IS NULL",
            new { now = time.GetUtcNow().ToUnixTimeMilliseconds(), messageId, id }, tx, cancellationToken: ct)), ct);
        if (deleted == 0)
        {
            return ApiProblem.NotFound("MESSAGE_NOT_FOUND", "Chat message");
        }

        await broadcaster.PublishAsync(RoomTarget.Session, id, "chatDeleted", new ChatDeleted(id, messageId));
        return TypedResults.NoContent();
    }

    internal static async Task<Results<Created<Mute>, ProblemHttpResult, ValidationProblem>> MuteUser(
        string id, MuteRequest body, ClaimsPrincipal user, RoomSessions sessions, ChatService chat, TimeProvider time, CancellationToken ct)
    {
        var v = new RequestValidator()
            .Text("userId", body.UserId, 1, 64)
            .Range("durationSeconds", body.DurationSeconds, 1, (long)TimeSpan.FromDays(30).TotalSeconds);
        if (!v.IsValid)
        {
            return ApiProblem.Validation(v.Errors);
        }

        if (await PinsApi.OwnedSessionAsync(id, user, sessions, ct, allowAdmin: true) is { } problem)
        {
            return problem;
        }

        var until = time.GetUtcNow().AddSeconds(body.DurationSeconds!.Value);
        await chat.MuteAsync(id, body.UserId!, until, user.UserId(), ct);
        return TypedResults.Created($"/api/live/sessions/{id}/mutes/{body.UserId}", new Mute(id, body.UserId!, until));
    }

    internal static async Task<Results<Ok<ChatSettings>, ProblemHttpResult, ValidationProblem>> Settings(
        string id, ChatSettingsRequest body, ClaimsPrincipal user, RoomSessions sessions, Database db, ChatSettingsCache cache, RoomBroadcaster broadcaster, TimeProvider time, CancellationToken ct)
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

        if (await PinsApi.OwnedSessionAsync(id, user, sessions, ct, allowAdmin: true) is { } problem)
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
}
