using System.Data.Common;
using System.Globalization;
using System.Text.Json;
using Dapper;
using Microsoft.Extensions.Options;
using Pasar.Server.Notifications;
using Pasar.Server.Platform.Auth;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Live;

/// <summary>
/// Scheduled shows and their subscribers (SPEC §14, ADR 0015): moving and cancelling a show, "notify me", and the
/// notices owed to subscribers. Every change of a show and the notices it owes commit in one transaction, so a
/// crash never leaves a reminder for a time that no longer holds. <see cref="ShowNoticeFanout"/> delivers them.
/// </summary>
internal sealed class ShowSchedule(Database db, TimeProvider time, IOptions<LiveOptions> options, ShowNoticeSignal signal, NotificationInbox inbox)
{
    /// <summary>How far ahead a show may be scheduled.</summary>
    public static readonly TimeSpan Horizon = TimeSpan.FromDays(90);

    /// <summary>Field errors for a requested start time: in the future and within <see cref="Horizon"/>.</summary>
    public static string? CheckTime(DateTimeOffset? scheduledAt, DateTimeOffset now) => scheduledAt switch
    {
        null => "scheduledAt is required.",
        { } at when at <= now => "scheduledAt must be in the future.",
        { } at when at > now + Horizon => $"scheduledAt must be within {Horizon.TotalDays:0} days.",
        _ => null,
    };

    /// <summary>The id of a show's reminder for one start time; its notifications are <c>{id}:{userId}</c>.</summary>
    public static string ReminderId(string sessionId, long scheduledAt) =>
        string.Create(CultureInfo.InvariantCulture, $"{NotificationTypes.ShowStarting}:{sessionId}:{scheduledAt}");

    /// <summary>Queues the reminder of a newly scheduled show in the creating transaction.</summary>
    public static Task QueueReminderAsync(DbConnection c, DbTransaction tx, LiveSessionRow row, TimeSpan lead, string sellerName, CancellationToken ct)
    {
        var at = row.ScheduledAt!.Value;
        var minutes = Math.Max(1, (int)Math.Round(lead.TotalMinutes));
        return QueueAsync(c, tx, ReminderId(row.Id, at), row.Id, NotificationTypes.ShowStarting,
            string.Create(CultureInfo.InvariantCulture, $"{sellerName} goes live in {minutes} min"), row.Title,
            new { sessionId = row.Id, sellerId = row.SellerId, title = row.Title, scheduledAt = DateTimeOffset.FromUnixTimeMilliseconds(at) },
            dueAt: at - (long)lead.TotalMilliseconds, now: row.CreatedAt, onlyWithSubscribers: false, ct);
    }

    /// <summary>
    /// scheduled → scheduled at <paramref name="scheduledAt"/>. The pending reminder moves with it; a reminder already
    /// sent is sent again only when the new one falls after the old start (the old "starting soon" has passed
    /// without a show). Subscribers are told the new time (SHOW_RESCHEDULED). False when the show is not scheduled.
    /// </summary>
    public async Task<bool> RescheduleAsync(string id, DateTimeOffset scheduledAt, CancellationToken ct)
    {
        var changed = await db.InTransactionAsync(async (c, tx) =>
        {
            var row = await LiveSessionStore.FindAsync(c, tx, id, ct);
            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            var at = scheduledAt.ToUnixTimeMilliseconds();
            if (row is null || await c.ExecuteAsync(new CommandDefinition(
                "UPDATE live_sessions SET scheduled_at = @at WHERE id = @id AND status = 'scheduled'", new { id, at }, tx, cancellationToken: ct)) == 0)
            {
                return false;
            }

            var lead = options.Value.ReminderLead;
            var sent = await c.ExecuteScalarAsync<long>(new CommandDefinition(
                """
                SELECT COUNT(*) FROM show_notices
                WHERE session_id = @id AND type = @type AND (delivered > 0 OR (done_at IS NOT NULL AND superseded_at IS NULL))
                """, new { id, type = NotificationTypes.ShowStarting }, tx, cancellationToken: ct)) > 0;
            await SupersedeAsync(c, tx, id, now, ct, NotificationTypes.ShowStarting, NotificationTypes.ShowRescheduled);
            var name = await SellerNameAsync(c, tx, row.SellerId, ct);
            var moved = new LiveSessionRow { Id = row.Id, SellerId = row.SellerId, Title = row.Title, Status = row.Status, CreatedAt = now, ScheduledAt = at };
            if (!sent || at - (long)lead.TotalMilliseconds > row.ScheduledAt)
            {
                await QueueReminderAsync(c, tx, moved, lead, name, ct);
            }

            var when = DateTimeOffset.FromUnixTimeMilliseconds(at);
            await QueueAsync(c, tx, $"{NotificationTypes.ShowRescheduled}:{id}:{Platform.Ids.New()}", id, NotificationTypes.ShowRescheduled,
                $"{name} moved a show", string.Create(CultureInfo.InvariantCulture, $"{row.Title}: now at {when:yyyy-MM-dd HH:mm} UTC"),
                new { sessionId = id, sellerId = row.SellerId, title = row.Title, scheduledAt = when, previousScheduledAt = DateTimeOffset.FromUnixTimeMilliseconds(row.ScheduledAt ?? at) },
                dueAt: now, now, onlyWithSubscribers: true, ct);
            return true;
        }, ct);
        if (changed)
        {
            signal.Wake();
        }

        return changed;
    }

    /// <summary>
    /// scheduled → cancelled (<paramref name="reason"/>: <c>owner</c> or <c>expired</c>): the reminder is withdrawn and
    /// subscribers get SHOW_CANCELLED. False when it was not scheduled (already live, over, or cancelled by another node).
    /// </summary>
    public async Task<bool> CancelAsync(string id, string reason, CancellationToken ct)
    {
        var changed = await db.InTransactionAsync(async (c, tx) =>
        {
            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            if (await c.ExecuteAsync(new CommandDefinition(
                "UPDATE live_sessions SET status = 'cancelled', ended_at = @now, end_reason = @reason WHERE id = @id AND status = 'scheduled'",
                new { id, now, reason }, tx, cancellationToken: ct)) == 0)
            {
                return false;
            }

            var row = (await LiveSessionStore.FindAsync(c, tx, id, ct))!;
            await SupersedeAsync(c, tx, id, now, ct, NotificationTypes.ShowStarting, NotificationTypes.ShowRescheduled);
            var name = await SellerNameAsync(c, tx, row.SellerId, ct);
            await QueueAsync(c, tx, NotificationTypes.OncePerUser(NotificationTypes.ShowCancelled, id), id, NotificationTypes.ShowCancelled,
                $"{name} cancelled a show", reason == "expired" ? $"{row.Title} did not start and was cancelled." : row.Title,
                new { sessionId = id, sellerId = row.SellerId, title = row.Title, reason },
                dueAt: now, now, onlyWithSubscribers: true, ct);
            return true;
        }, ct);
        if (changed)
        {
            signal.Wake();
        }

        return changed;
    }

    /// <summary>
    /// In <see cref="LiveSessionStore.MarkLiveAsync"/>'s transaction: what was owed for the start time is withdrawn and
    /// subscribers get SELLER_LIVE, with the id the follower fan-out uses too, so nobody is told twice.
    /// </summary>
    public static async Task WentLiveAsync(DbConnection c, DbTransaction tx, LiveSessionRow row, DateTimeOffset at, CancellationToken ct)
    {
        var now = at.ToUnixTimeMilliseconds();
        await SupersedeAsync(c, tx, row.Id, now, ct, NotificationTypes.ShowStarting, NotificationTypes.ShowRescheduled);
        var name = await SellerNameAsync(c, tx, row.SellerId, ct);
        await QueueAsync(c, tx, NotificationTypes.OncePerUser(NotificationTypes.SellerLive, row.Id), row.Id, NotificationTypes.SellerLive,
            $"{name} is live", row.Title, new { sessionId = row.Id, sellerId = row.SellerId, title = row.Title },
            dueAt: now, now, onlyWithSubscribers: true, ct);
    }

    /// <summary>
    /// "Notify me" on a scheduled show; false when the show is not scheduled. Asking after the reminder went out
    /// (inside the lead time) gets it at once, under the same id, so it is still one per user.
    /// </summary>
    public async Task<bool> SubscribeAsync(string id, string userId, CancellationToken ct)
    {
        NoticeRow? late = null;
        var ok = await db.InTransactionAsync(async (c, tx) =>
        {
            late = null;
            var row = await LiveSessionStore.FindAsync(c, tx, id, ct);
            if (row is null || row.Status != LiveStatus.Scheduled)
            {
                return false;
            }

            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            var added = await c.ExecuteAsync(new CommandDefinition(
                "INSERT INTO show_reminders (session_id, user_id, created_at) VALUES (@id, @userId, @now) ON CONFLICT DO NOTHING",
                new { id, userId, now }, tx, cancellationToken: ct));
            var reminder = added == 0 ? null : await c.QuerySingleOrDefaultAsync<NoticeRow>(new CommandDefinition(
                $"SELECT {NoticeRow.Columns} FROM show_notices WHERE id = @noticeId AND done_at IS NOT NULL AND superseded_at IS NULL",
                new { noticeId = ReminderId(id, row.ScheduledAt!.Value) }, tx, cancellationToken: ct));
            if (reminder is not null && (await inbox.AddForEachAsync(c, tx, reminder.Id, [userId], reminder.Type, reminder.Title, reminder.Body, reminder.Data, ct)).Count == 1)
            {
                late = reminder;
            }

            return true;
        }, ct);
        if (late is not null)
        {
            try
            {
                await inbox.PushEachAsync(late.Id, [userId], late.Type, late.Title, late.Body, late.Data);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                // Stored; only the live push failed. The user sees it in the inbox.
            }
        }

        return ok;
    }

    public async Task UnsubscribeAsync(string id, string userId, CancellationToken ct) =>
        await db.InTransactionAsync((c, tx) => c.ExecuteAsync(new CommandDefinition(
            "DELETE FROM show_reminders WHERE session_id = @id AND user_id = @userId", new { id, userId }, tx, cancellationToken: ct)), ct);

    /// <summary>Whether <paramref name="userId"/> asked to be reminded, and how many did.</summary>
    public async Task<(bool Subscribed, long Subscribers)> ReminderStateAsync(string id, string? userId, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var count = await c.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM show_reminders WHERE session_id = @id", new { id }, cancellationToken: ct));
        var mine = userId is not null && await c.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM show_reminders WHERE session_id = @id AND user_id = @userId", new { id, userId }, cancellationToken: ct)) > 0;
        return (mine, count);
    }

    /// <summary>Scheduled shows whose start is more than <c>Pasar:Live:ScheduledExpiryHours</c> ago.</summary>
    public async Task<IReadOnlyList<string>> ExpiredAsync(CancellationToken ct)
    {
        var before = time.GetUtcNow().Subtract(options.Value.ScheduledExpiry).ToUnixTimeMilliseconds();
        await using var c = await db.OpenAsync(ct);
        return (await c.QueryAsync<string>(new CommandDefinition(
            "SELECT id FROM live_sessions WHERE status = 'scheduled' AND scheduled_at < @before ORDER BY scheduled_at LIMIT 100",
            new { before }, cancellationToken: ct))).AsList();
    }

    private static Task SupersedeAsync(DbConnection c, DbTransaction tx, string sessionId, long now, CancellationToken ct, params string[] types)
    {
        // Named parameters, not a list parameter: Dapper expands lists on SQLite but hands Npgsql an array.
        var parameters = new DynamicParameters(new { sessionId, now });
        for (var i = 0; i < types.Length; i++)
        {
            parameters.Add($"t{i}", types[i]);
        }

        return c.ExecuteAsync(new CommandDefinition(
            $"UPDATE show_notices SET done_at = @now, superseded_at = @now, locked_until = NULL WHERE session_id = @sessionId AND done_at IS NULL AND type IN ({string.Join(", ", types.Select((_, i) => $"@t{i}"))})",
            parameters, tx, cancellationToken: ct));
    }

    private static Task QueueAsync(DbConnection c, DbTransaction tx, string id, string sessionId, string type, string title, string body, object data,
        long dueAt, long now, bool onlyWithSubscribers, CancellationToken ct) =>
        // A notice id seen before (a show moved back to an earlier time) is opened again: its notifications keep
        // their ids, so whoever already got that one is not told twice.
        c.ExecuteAsync(new CommandDefinition(
            $"""
            INSERT INTO show_notices (id, session_id, type, title, body, data, due_at, created_at)
            SELECT @id, @sessionId, @type, @title, @body, @data, @dueAt, @now
            WHERE {(onlyWithSubscribers ? "EXISTS (SELECT 1 FROM show_reminders WHERE session_id = @sessionId)" : "1 = 1")}
            ON CONFLICT (id) DO UPDATE SET due_at = excluded.due_at, done_at = NULL, superseded_at = NULL, locked_until = NULL, after_user = ''
            """,
            new { id, sessionId, type, title, body, data = JsonSerializer.Serialize(data, JsonSerializerOptions.Web), dueAt, now }, tx, cancellationToken: ct));

    internal static async Task<string> SellerNameAsync(DbConnection c, DbTransaction tx, string sellerId, CancellationToken ct) =>
        (await UserDirectory.FindAsync(c, tx, sellerId, ct))?.Name ?? sellerId;
}

/// <summary>A row of <c>show_notices</c>: one notice owed to a show's subscribers.</summary>
internal sealed class NoticeRow
{
    public const string Columns = "id AS Id, session_id AS SessionId, type AS Type, title AS Title, body AS Body, data AS Data, due_at AS DueAt, after_user AS AfterUser";

    public string Id { get; init; } = "";
    public string SessionId { get; init; } = "";
    public string Type { get; init; } = "";
    public string Title { get; init; } = "";
    public string Body { get; init; } = "";
    public string Data { get; init; } = "{}";
    public long DueAt { get; init; }
    public string AfterUser { get; init; } = "";
}
