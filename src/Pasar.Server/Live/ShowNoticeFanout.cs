using Dapper;
using Microsoft.Extensions.Options;
using Pasar.Server.Notifications;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Live;

/// <summary>Wakes this node's <see cref="ShowNoticeFanout"/> when a notice was queued here (other nodes find it by polling).</summary>
internal sealed class ShowNoticeSignal
{
    private readonly SemaphoreSlim _wake = new(0, 1);

    public void Wake()
    {
        try
        {
            if (_wake.CurrentCount == 0)
            {
                _wake.Release();
            }
        }
        catch (SemaphoreFullException)
        {
            // Already woken.
        }
    }

    public Task<bool> WaitAsync(TimeSpan timeout, CancellationToken ct) => _wake.WaitAsync(timeout, ct);
}

/// <summary>
/// Delivers what scheduled shows owe their subscribers, on every node (ADR 0015). Each round cancels the shows
/// that never started, then claims one due notice under a short lease (a conditional UPDATE, so two nodes never
/// hold the same one) and delivers it a batch of subscribers per transaction: the batch's notifications and the
/// notice's cursor commit together, and notification ids are the notice id plus the user, so a batch repeated
/// after a crash or a lost lease adds nothing twice. A notice withdrawn meanwhile (the show moved, was cancelled
/// or went live) stops at its next batch.
/// </summary>
internal sealed class ShowNoticeFanout(
    Database database, ShowSchedule schedule, ShowNoticeSignal signal, NotificationInbox inbox, IOptions<LiveOptions> options,
    TimeProvider time, ILogger<ShowNoticeFanout> logger) : BackgroundService
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(250);
    private int _failures;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var worked = false;
            try
            {
                await ExpireAsync(stoppingToken);
                worked = await DeliverOneAsync(stoppingToken);
                _failures = 0;
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // Never let the loop die; an outage is one short line now and then, not a stack trace per round.
                _failures++;
                if (!StoreFaults.IsUnavailable(ex))
                {
                    logger.LogError(ex, "Show notices failed; retrying");
                }
                else if (_failures == 1 || _failures % 20 == 0)
                {
                    logger.LogWarning("Show notices wait for the database: {Error}", StoreFaults.Describe(ex));
                }

                try
                {
                    await Task.Delay(StoreResilience.LoopBackoff(_failures), stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    break;
                }

                continue;
            }

            if (!worked)
            {
                try
                {
                    await signal.WaitAsync(Poll, stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
        }
    }

    /// <summary>Cancels the shows not started <c>Pasar:Live:ScheduledExpiryHours</c> after their time (once, whichever node).</summary>
    internal async Task ExpireAsync(CancellationToken ct)
    {
        foreach (var id in await schedule.ExpiredAsync(ct))
        {
            if (await schedule.CancelAsync(id, "expired", ct))
            {
                logger.LogInformation("Scheduled show {SessionId} never started and was cancelled", id);
            }
        }
    }

    /// <summary>Claims one due notice and delivers all of it; false when none was due.</summary>
    internal async Task<bool> DeliverOneAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        // A read first: every node polls four times a second, and on SQLite a write transaction that finds nothing
        // still takes the one write lock from the requests.
        await using (var read = await database.OpenAsync(ct))
        {
            if (await read.ExecuteScalarAsync<long?>(new CommandDefinition(
                "SELECT 1 FROM show_notices WHERE done_at IS NULL AND due_at <= @now AND (locked_until IS NULL OR locked_until < @now) LIMIT 1",
                new { now }, cancellationToken: ct)) is null)
            {
                return false;
            }
        }

        var notice = await database.InTransactionAsync(async (c, tx) =>
            await c.QuerySingleOrDefaultAsync<NoticeRow>(new CommandDefinition(
                $"""
                UPDATE show_notices SET locked_until = @until
                WHERE id = (SELECT id FROM show_notices WHERE done_at IS NULL AND due_at <= @now AND (locked_until IS NULL OR locked_until < @now) ORDER BY due_at LIMIT 1)
                  AND done_at IS NULL AND (locked_until IS NULL OR locked_until < @now)
                RETURNING {NoticeRow.Columns}
                """,
                new { now, until = now + (long)Lease.TotalMilliseconds }, tx, cancellationToken: ct)), ct);
        if (notice is null)
        {
            return false;
        }

        var started = time.GetTimestamp();
        var after = notice.AfterUser;
        var batch = options.Value.ReminderBatchSize;
        long total = 0;
        while (true)
        {
            IReadOnlyList<string> added = [];
            var (more, last, open) = await database.InTransactionAsync(async (c, tx) =>
            {
                added = [];
                var at = time.GetUtcNow().ToUnixTimeMilliseconds();
                var users = (await c.QueryAsync<string>(new CommandDefinition(
                    "SELECT user_id FROM show_reminders WHERE session_id = @SessionId AND user_id > @after ORDER BY user_id LIMIT @batch",
                    new { notice.SessionId, after, batch }, tx, cancellationToken: ct))).AsList();
                var lastUser = users.Count > 0 ? users[^1] : after;
                // The cursor first: on PostgreSQL it takes the row lock, so a reschedule or cancel that withdraws the
                // notice waits for this batch or makes it find the notice done and add nothing.
                var moved = await c.ExecuteAsync(new CommandDefinition(
                    users.Count < batch
                        ? "UPDATE show_notices SET after_user = @lastUser, delivered = delivered + @n, done_at = @at, locked_until = NULL WHERE id = @Id AND done_at IS NULL"
                        : "UPDATE show_notices SET after_user = @lastUser, delivered = delivered + @n, locked_until = @until WHERE id = @Id AND done_at IS NULL",
                    new { lastUser, n = users.Count, at, until = at + (long)Lease.TotalMilliseconds, notice.Id }, tx, cancellationToken: ct));
                if (moved == 0)
                {
                    return (false, lastUser, false);
                }

                if (users.Count > 0)
                {
                    added = await inbox.AddForEachAsync(c, tx, notice.Id, users, notice.Type, notice.Title, notice.Body, notice.Data, ct);
                }

                return (users.Count == batch, lastUser, true);
            }, ct);
            if (!open)
            {
                logger.LogInformation("Show notice {Notice} was withdrawn after {Count} notifications", notice.Id, total);
                return true;
            }

            total += added.Count;
            after = last;
            try
            {
                await inbox.PushEachAsync(notice.Id, added, notice.Type, notice.Title, notice.Body, notice.Data);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogWarning("Live push of show notice {Notice} failed; the notifications are stored: {Error}", notice.Id, StoreFaults.Describe(ex));
            }

            if (!more)
            {
                logger.LogInformation("Show notice {Notice} ({Type}) reached {Count} subscribers in {Ms:0} ms", notice.Id, notice.Type, total, time.GetElapsedTime(started).TotalMilliseconds);
                return true;
            }

            await Task.Yield();
        }
    }
}
