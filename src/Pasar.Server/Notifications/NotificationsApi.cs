using System.Security.Claims;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Pasar.Server.Platform.Auth;
using Pasar.Server.Platform.Http;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Notifications;

internal sealed record NotificationPage(IReadOnlyList<Notification> Items, string? NextCursor, long Unread);

internal static class NotificationsApi
{
    public static void MapNotificationsApi(this IEndpointRouteBuilder app)
    {
        var me = app.MapGroup("/api/me/notifications").WithTags("Notifications").RequireAuthorization(Policies.User);
        me.MapGet("/", List).WithSummary("My notifications, newest first, with the unread count");
        me.MapPost("/{id}/read", MarkRead).WithSummary("Mark one of my notifications read");
    }

    internal static async Task<Results<Ok<NotificationPage>, ValidationProblem>> List(
        [FromQuery] int? limit, [FromQuery] string? cursor, ClaimsPrincipal user, Database db, CancellationToken ct)
    {
        var v = new RequestValidator();
        var page = PageRequest.From(limit, cursor, v);
        if (!v.IsValid)
        {
            return ApiProblem.Validation(v.Errors);
        }

        var userId = user.UserId();
        await using var c = await db.OpenAsync(ct);
        var rows = (await c.QueryAsync<NotificationInbox.Row>(new CommandDefinition(
            $"SELECT {NotificationInbox.Columns} FROM notifications WHERE user_id = @userId AND {page.Condition("created_at", "id")} ORDER BY created_at DESC, id DESC LIMIT @fetch",
            new { userId, beforeTime = page.BeforeTime, beforeId = page.BeforeId, fetch = page.FetchSize }, cancellationToken: ct))).AsList();
        var unread = await c.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM notifications WHERE user_id = @userId AND read_at IS NULL", new { userId }, cancellationToken: ct));
        var result = page.ToPage(rows, r => r.CreatedAt, r => r.Id, r => r.ToNotification());
        return TypedResults.Ok(new NotificationPage(result.Items, result.NextCursor, unread));
    }

    internal static async Task<Results<NoContent, ProblemHttpResult>> MarkRead(string id, ClaimsPrincipal user, Database db, TimeProvider time, CancellationToken ct)
    {
        var userId = user.UserId();
        var found = await db.InTransactionAsync(async (c, tx) =>
        {
            var owner = await c.ExecuteScalarAsync<string?>(new CommandDefinition(
                "SELECT user_id FROM notifications WHERE id = @id", new { id }, tx, cancellationToken: ct));
            if (owner != userId)
            {
                return false; // someone else's notification is as good as absent: do not reveal it exists
            }

            await c.ExecuteAsync(new CommandDefinition(
                "UPDATE notifications SET read_at = @at WHERE id = @id AND read_at IS NULL",
                new { id, at = time.GetUtcNow().ToUnixTimeMilliseconds() }, tx, cancellationToken: ct));
            return true;
        }, ct);
        return found ? TypedResults.NoContent() : ApiProblem.NotFound("NOTIFICATION_NOT_FOUND", "Notification");
    }
}
