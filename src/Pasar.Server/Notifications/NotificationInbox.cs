using System.Data.Common;
using System.Text.Json;
using Dapper;
using Pasar.Server.Platform;

namespace Pasar.Server.Notifications;

internal static class NotificationTypes
{
    public const string CoinsEarned = "COINS_EARNED";
    public const string NewFollower = "NEW_FOLLOWER";
    public const string SellerLive = "SELLER_LIVE";

    /// <summary>A show a user asked to be reminded of starts in <c>Pasar:Live:ReminderLeadMinutes</c>.</summary>
    public const string ShowStarting = "SHOW_STARTING";

    /// <summary>A show a user asked to be reminded of moved to another time.</summary>
    public const string ShowRescheduled = "SHOW_RESCHEDULED";

    /// <summary>A show a user asked to be reminded of was cancelled (by its seller, or because it never started).</summary>
    public const string ShowCancelled = "SHOW_CANCELLED";

    /// <summary>
    /// The id prefix that makes a notification about <paramref name="subjectId"/> one per user whoever sends it:
    /// the follower fan-out and the show reminders both use it for a session's SELLER_LIVE, so a follower who also
    /// asked for a reminder is told once (the notification's primary key is <c>{prefix}:{userId}</c>).
    /// </summary>
    public static string OncePerUser(string type, string subjectId) => $"{type}:{subjectId}";
}

public sealed record Notification(string Id, string Type, string Title, string Body, JsonElement Data, DateTimeOffset CreatedAt, DateTimeOffset? ReadAt);

/// <summary>
/// The one notification store: every module that tells a user something writes here, inside its own
/// transaction (usually an outbox handler's, so each notification is written exactly once).
/// </summary>
/// <remarks>
/// Live delivery is optional: the live-room module adds an <see cref="INotificationPush"/>; without one (a host
/// without the hub) notifications are only stored.
/// </remarks>
internal sealed class NotificationInbox(TimeProvider time, IEnumerable<INotificationPush> pushes)
{
    private readonly INotificationPush[] _pushes = [.. pushes];

    /// <summary>Adds a notification in a handler's transaction and pushes it live once that commits.</summary>
    public async Task<Notification> AddAsync(Platform.Events.EventContext context, string userId, string type, string title, string body, object data, CancellationToken ct)
    {
        var notification = await AddAsync(context.Connection, context.Transaction, userId, type, title, body, data, ct);
        foreach (var push in _pushes)
        {
            context.AfterCommit(() => push.PushAsync([userId], notification));
        }

        return notification;
    }

    public async Task<Notification> AddAsync(DbConnection c, DbTransaction tx, string userId, string type, string title, string body, object data, CancellationToken ct)
    {
        var id = Ids.New();
        var at = time.GetUtcNow().ToUnixTimeMilliseconds();
        var json = JsonSerializer.Serialize(data, JsonSerializerOptions.Web);
        await c.ExecuteAsync(new CommandDefinition(
            "INSERT INTO notifications (id, user_id, type, title, body, data, created_at) VALUES (@id, @userId, @type, @title, @body, @json, @at)",
            new { id, userId, type, title, body, json, at }, tx, cancellationToken: ct));
        return new Notification(id, type, title, body, JsonDocument.Parse(json).RootElement.Clone(), DateTimeOffset.FromUnixTimeMilliseconds(at), null);
    }

    /// <summary>
    /// Adds the same notification for each of <paramref name="userIds"/> in the caller's transaction (a fan-out
    /// batch). Ids are <c>{idPrefix}:{userId}</c>, so a repeated batch, or another fan-out with the same prefix
    /// (<see cref="NotificationTypes.OncePerUser"/>), adds nothing twice. Returns the users it did add, the ones to push to.
    /// </summary>
    public async Task<IReadOnlyList<string>> AddForEachAsync(DbConnection c, DbTransaction tx, string idPrefix, IReadOnlyList<string> userIds, string type, string title, string body, string dataJson, CancellationToken ct)
    {
        var added = new List<string>(userIds.Count);
        var at = time.GetUtcNow().ToUnixTimeMilliseconds();
        // A few statements of many rows each: one round trip per chunk, and well inside both engines' parameter limits.
        foreach (var chunk in userIds.Chunk(500))
        {
            var parameters = new DynamicParameters(new { idPrefix, type, title, body, dataJson, at });
            var rows = new List<string>(chunk.Length);
            for (var i = 0; i < chunk.Length; i++)
            {
                parameters.Add($"u{i}", chunk[i]);
                rows.Add($"(@idPrefix || ':' || @u{i}, @u{i}, @type, @title, @body, @dataJson, @at)");
            }

            // RETURNING lists only the rows inserted, on both engines: a user someone already told is not pushed again.
            added.AddRange(await c.QueryAsync<string>(new CommandDefinition(
                $"INSERT INTO notifications (id, user_id, type, title, body, data, created_at) VALUES {string.Join(", ", rows)} ON CONFLICT DO NOTHING RETURNING user_id",
                parameters, tx, cancellationToken: ct)));
        }

        return added;
    }

    /// <summary>Pushes what <see cref="AddForEachAsync"/> stored to those of the users who have Pasar open (after the commit).</summary>
    public async Task PushEachAsync(string idPrefix, IReadOnlyList<string> userIds, string type, string title, string body, string dataJson)
    {
        if (userIds.Count == 0 || _pushes.Length == 0)
        {
            return;
        }

        var data = JsonDocument.Parse(dataJson).RootElement.Clone();
        foreach (var userId in userIds)
        {
            var notification = new Notification($"{idPrefix}:{userId}", type, title, body, data, time.GetUtcNow(), null);
            foreach (var push in _pushes)
            {
                await push.PushAsync([userId], notification);
            }
        }
    }

    internal const string Columns = "id AS Id, type AS Type, title AS Title, body AS Body, data AS Data, created_at AS CreatedAt, read_at AS ReadAt";

    internal sealed class Row
    {
        public string Id { get; init; } = "";
        public string Type { get; init; } = "";
        public string Title { get; init; } = "";
        public string Body { get; init; } = "";
        public string Data { get; init; } = "{}";
        public long CreatedAt { get; init; }
        public long? ReadAt { get; init; }

        public Notification ToNotification() => new(Id, Type, Title, Body, JsonDocument.Parse(Data).RootElement.Clone(),
            DateTimeOffset.FromUnixTimeMilliseconds(CreatedAt), ReadAt is null ? null : DateTimeOffset.FromUnixTimeMilliseconds(ReadAt.Value));
    }
}

/// <summary>Delivers a stored notification to the users' open pages (the live-room hub implements it).</summary>
internal interface INotificationPush
{
    Task PushAsync(IReadOnlyList<string> userIds, Notification notification);
}
