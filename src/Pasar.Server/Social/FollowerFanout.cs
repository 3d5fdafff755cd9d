using System.Data.Common;
using System.Text.Json;
using Dapper;
using Microsoft.Extensions.Options;
using Pasar.Server.Notifications;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Social;

/// <summary>
/// Notifies every follower of a seller in the background, a batch per transaction, so that a seller with
/// 100,000 followers neither holds up the event that asked for it nor the requests of anyone else. Each
/// batch inserts its notifications and moves the job's cursor in one commit; notification ids are derived
/// from the job and the follower, so a batch repeated after a crash adds nothing twice.
/// </summary>
internal sealed class FollowerFanout(Database database, IOptions<SocialOptions> options, TimeProvider time, ILogger<FollowerFanout> logger, NotificationInbox inbox) : BackgroundService
{
    private readonly SemaphoreSlim _wake = new(0, int.MaxValue);
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(30);

    /// <summary>Queues a fan-out in the caller's transaction; <paramref name="jobId"/> makes it idempotent (use the event id).</summary>
    public async Task StartAsync(DbConnection c, DbTransaction tx, string jobId, string sellerId, string type, string title, string body, object data, CancellationToken ct)
    {
        await c.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO follower_fanouts (id, seller_id, type, title, body, data, created_at)
            VALUES (@jobId, @sellerId, @type, @title, @body, @data, @at) ON CONFLICT DO NOTHING
            """,
            new { jobId, sellerId, type, title, body, data = JsonSerializer.Serialize(data, JsonSerializerOptions.Web), at = time.GetUtcNow().ToUnixTimeMilliseconds() },
            tx, cancellationToken: ct));
        _wake.Release();
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var worked = false;
            try
            {
                worked = await RunOneBatchAsync(stoppingToken);
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                break;
            }
            catch (Exception ex)
            {
                // Never let the loop die; a database outage is one short line, not a stack trace a second.
                if (StoreFaults.IsUnavailable(ex))
                {
                    logger.LogWarning("Follower fan-out waits for the database: {Error}", StoreFaults.Describe(ex));
                }
                else
                {
                    logger.LogError(ex, "Follower fan-out batch failed; retrying");
                }
            }

            if (!worked)
            {
                try
                {
                    await _wake.WaitAsync(TimeSpan.FromSeconds(1), stoppingToken);
                }
                catch (OperationCanceledException)
                {
                    break;
                }
            }
            else
            {
                // Give the request path the CPU between batches.
                await Task.Yield();
            }
        }
    }

    /// <summary>Delivers the next batch of one pending job; false when there is nothing to do.</summary>
    internal async Task<bool> RunOneBatchAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var job = await database.InTransactionAsync(async (c, tx) =>
            await c.QuerySingleOrDefaultAsync<Job>(new CommandDefinition(
                """
                UPDATE follower_fanouts SET locked_until = @until
                WHERE id = (SELECT id FROM follower_fanouts WHERE done_at IS NULL AND (locked_until IS NULL OR locked_until < @now) ORDER BY created_at LIMIT 1)
                  AND done_at IS NULL AND (locked_until IS NULL OR locked_until < @now)
                RETURNING id AS Id, seller_id AS SellerId, type AS Type, title AS Title, body AS Body, data AS Data, after_follower AS AfterFollower, created_at AS CreatedAt
                """,
                new { now, until = now + (long)Lease.TotalMilliseconds }, tx, cancellationToken: ct)), ct);
        if (job is null)
        {
            return false;
        }

        var after = job.AfterFollower;
        while (true)
        {
            var batch = options.Value.FanoutBatchSize;
            var batchStarted = time.GetTimestamp();
            List<string> notified = [];
            var (count, last) = await database.InTransactionAsync(async (c, tx) =>
            {
                var followers = (await c.QueryAsync<string>(new CommandDefinition(
                    "SELECT follower_id FROM follows WHERE seller_id = @SellerId AND follower_id > @after ORDER BY follower_id LIMIT @batch",
                    new { job.SellerId, after, batch }, tx, cancellationToken: ct))).AsList();
                // Written through the Notifications module; the id (job:follower) makes a repeated batch insert
                // nothing, and only the followers it did add are pushed to.
                notified = followers.Count > 0
                    ? [.. await inbox.AddForEachAsync(c, tx, job.Id, followers, job.Type, job.Title, job.Body, job.Data, ct)]
                    : [];
                var lastFollower = followers.Count > 0 ? followers[^1] : after;
                await c.ExecuteAsync(new CommandDefinition(
                    followers.Count < batch
                        ? "UPDATE follower_fanouts SET after_follower = @lastFollower, delivered = delivered + @n, done_at = @now, locked_until = NULL WHERE id = @Id"
                        : "UPDATE follower_fanouts SET after_follower = @lastFollower, delivered = delivered + @n, locked_until = @until WHERE id = @Id",
                    new { lastFollower, n = followers.Count, now = time.GetUtcNow().ToUnixTimeMilliseconds(), until = time.GetUtcNow().Add(Lease).ToUnixTimeMilliseconds(), job.Id },
                    tx, cancellationToken: ct));
                return (followers.Count, lastFollower);
            }, ct);
            after = last;
            await PushAsync(job, notified);
            if (count < batch)
            {
                logger.LogInformation("Fan-out {Job} ({Type}) to the followers of {Seller} is done", job.Id, job.Type, job.SellerId);
                return true;
            }

            // Rest as long as the batch took: the fan-out uses at most about half of what the database and
            // the cores can do, and the requests of everyone else keep their latency.
            await Task.Delay(time.GetElapsedTime(batchStarted), time, ct);
        }
    }

    /// <summary>Pushes the batch's notifications to the followers who have Pasar open (after the batch committed).</summary>
    private async Task PushAsync(Job job, List<string> followers)
    {
        try
        {
            await inbox.PushEachAsync(job.Id, followers, job.Type, job.Title, job.Body, job.Data);
        }
        catch (Exception ex)
        {
            logger.LogWarning(ex, "Live push of fan-out {Job} failed; the notifications are stored", job.Id);
        }
    }

    private sealed class Job
    {
        public string Id { get; init; } = "";
        public string SellerId { get; init; } = "";
        public string Type { get; init; } = "";
        public string Title { get; init; } = "";
        public string Body { get; init; } = "";
        public string Data { get; init; } = "{}";
        public string AfterFollower { get; init; } = "";
        public long CreatedAt { get; init; }
    }
}
