using System.Collections.Concurrent;
using System.Text.Json;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Pasar.Server.Live;
using Pasar.Server.LiveRoom;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Http;
using Pasar.Server.Platform.Redis;
using Pasar.Server.Platform.Storage;
using StackExchange.Redis;

namespace Pasar.Server.Engagement;

/// <summary>
/// Polls in a live room. A vote is a row under the primary key (poll, user), so one vote per user holds on every
/// node; in the same transaction a conditional update of the poll (open, before its end) counts it, which orders
/// each vote strictly before or after the close. Counts are pushed at most four times a second per poll across
/// all nodes (a short SET NX in the hot store picks the node that pushes).
/// </summary>
internal sealed class PollService(
    Database database, LiveSessionStore sessions, ISessionModerators moderators, RoomBroadcaster broadcaster, HotStore store, TimeProvider time, ILogger<PollService> logger)
{
    public const int MinOptions = 2;
    public const int MaxOptions = 6;
    private static readonly TimeSpan PushEvery = TimeSpan.FromMilliseconds(250);
    private readonly ConcurrentDictionary<string, string> _dirty = new(StringComparer.Ordinal); // poll id → session id

    public async Task<Results<Created<Poll>, ProblemHttpResult, ValidationProblem>> StartAsync(
        string sessionId, string userId, StartPollRequest body, CancellationToken ct)
    {
        var v = new RequestValidator()
            .Text("question", body.Question, 1, 200)
            .Range("durationSeconds", body.DurationSeconds ?? 60, 5, 3600);
        if (body.Options is null || body.Options.Count is < MinOptions or > MaxOptions)
        {
            v.Add("options", $"options must have {MinOptions} to {MaxOptions} entries.");
        }
        else
        {
            for (var i = 0; i < body.Options.Count; i++)
            {
                v.Text($"options[{i}]", body.Options[i], 1, 80);
            }
        }

        if (!v.IsValid)
        {
            return ApiProblem.Validation(v.Errors);
        }

        var session = await sessions.FindAsync(sessionId, ct);
        if (session is null)
        {
            return ApiProblem.NotFound("SESSION_NOT_FOUND", "Live session");
        }

        if (!await EngagementAccess.CanRunPollsAsync(session, userId, moderators, ct))
        {
            return ApiProblem.Forbidden("Only the session's seller or its moderators can run polls.");
        }

        if (session.Status != LiveStatus.Live)
        {
            return ApiProblem.Create(StatusCodes.Status409Conflict, "SESSION_NOT_LIVE", "The session is not live", "Polls run while you are on air.");
        }

        await CloseDueAsync(ct); // a poll whose time is up no longer blocks a new one
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var options = body.Options!.Select(o => o!.Trim()).ToArray();
        var row = new PollRow
        {
            Id = Ids.New(),
            SessionId = session.Id,
            Question = body.Question!.Trim(),
            Options = JsonSerializer.Serialize(options),
            Status = PollStatus.Open,
            StartsAt = now,
            EndsAt = now + ((body.DurationSeconds ?? 60) * 1000L),
        };
        var inserted = await database.InTransactionAsync((c, tx) => c.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO polls (id, session_id, created_by, question, options, total_votes, status, starts_at, ends_at)
            VALUES (@Id, @SessionId, @userId, @Question, @Options, 0, 'open', @StartsAt, @EndsAt)
            ON CONFLICT (session_id) WHERE status = 'open' DO NOTHING
            """, new { row.Id, row.SessionId, userId, row.Question, row.Options, row.StartsAt, row.EndsAt }, tx, cancellationToken: ct)), ct);
        if (inserted == 0)
        {
            return ApiProblem.Create(StatusCodes.Status409Conflict, "POLL_ACTIVE", "A poll is already open", "One poll at a time per live session; close the current one first.");
        }

        var poll = ToPoll(row, new long[options.Length], PollStatus.Open);
        await broadcaster.PublishAsync(RoomTarget.Session, poll.SessionId, "pollStarted", poll);
        return TypedResults.Created($"/api/polls/{poll.Id}", poll);
    }

    public async Task<Results<NoContent, ProblemHttpResult, ValidationProblem>> VoteAsync(string pollId, string userId, VoteRequest body, CancellationToken ct)
    {
        var poll = await FindRowAsync(pollId, ct);
        if (poll is null)
        {
            return ApiProblem.NotFound("POLL_NOT_FOUND", "Poll");
        }

        var count = poll.OptionList().Count;
        var v = new RequestValidator().Range("option", body.Option, 0, count - 1);
        if (!v.IsValid)
        {
            return ApiProblem.Validation(v.Errors);
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        if (poll.Status != PollStatus.Open || now >= poll.EndsAt)
        {
            return Closed();
        }

        var outcome = await database.InTransactionAsync<CommandOutcome<string>>(async (c, tx) =>
        {
            // The vote row first: a second vote of the same user (any node) waits on the key, then inserts nothing.
            var inserted = await c.ExecuteAsync(new CommandDefinition(
                "INSERT INTO poll_votes (poll_id, user_id, option_ix, created_at) VALUES (@pollId, @userId, @option, @now) ON CONFLICT (poll_id, user_id) DO NOTHING",
                new { pollId, userId, option = body.Option!.Value, now }, tx, cancellationToken: ct));
            if (inserted == 0)
            {
                return CommandOutcome<string>.Refused(ApiProblem.Create(StatusCodes.Status409Conflict, "ALREADY_VOTED", "Already voted", "One vote per person in a poll."));
            }

            var counted = await c.ExecuteAsync(new CommandDefinition(
                "UPDATE polls SET total_votes = total_votes + 1 WHERE id = @pollId AND status = 'open' AND ends_at > @now",
                new { pollId, now }, tx, cancellationToken: ct));
            return counted == 1 ? new CommandOutcome<string>(pollId, null) : CommandOutcome<string>.Refused(Closed());
        }, ct);
        if (outcome.Problem is not null)
        {
            return outcome.Problem;
        }

        _dirty[pollId] = poll.SessionId;
        return TypedResults.NoContent();
    }

    public async Task<Results<Ok<Poll>, ProblemHttpResult>> CloseAsync(string pollId, string userId, CancellationToken ct)
    {
        var poll = await FindRowAsync(pollId, ct);
        if (poll is null)
        {
            return ApiProblem.NotFound("POLL_NOT_FOUND", "Poll");
        }

        var session = await sessions.FindAsync(poll.SessionId, ct);
        if (session is null || !await EngagementAccess.CanRunPollsAsync(session, userId, moderators, ct))
        {
            return ApiProblem.Forbidden("Only the session's seller or its moderators can close its polls.");
        }

        await CloseOneAsync(poll, ct);
        return TypedResults.Ok((await GetAsync(pollId, ct))!);
    }

    public async Task<Poll?> GetAsync(string pollId, CancellationToken ct)
    {
        var row = await FindRowAsync(pollId, ct);
        return row is null ? null : await WithCountsAsync(row, ct);
    }

    public async Task<Poll?> ActiveForSessionAsync(string sessionId, CancellationToken ct)
    {
        PollRow? row;
        await using (var c = await database.OpenAsync(ct))
        {
            row = await c.QuerySingleOrDefaultAsync<PollRow>(new CommandDefinition(
                $"SELECT {PollRow.Columns} FROM polls WHERE session_id = @sessionId AND status = 'open' AND ends_at > @now",
                new { sessionId, now = time.GetUtcNow().ToUnixTimeMilliseconds() }, cancellationToken: ct));
        }

        return row is null ? null : await WithCountsAsync(row, ct);
    }

    /// <summary>Closes polls whose time is up; the conditional update makes each close happen once across nodes.</summary>
    public async Task CloseDueAsync(CancellationToken ct)
    {
        IReadOnlyList<PollRow> due;
        await using (var c = await database.OpenAsync(ct))
        {
            due = (await c.QueryAsync<PollRow>(new CommandDefinition(
                $"SELECT {PollRow.Columns} FROM polls WHERE status = 'open' AND ends_at <= @now",
                new { now = time.GetUtcNow().ToUnixTimeMilliseconds() }, cancellationToken: ct))).AsList();
        }

        foreach (var poll in due)
        {
            await CloseOneAsync(poll, ct);
        }
    }

    /// <summary>Pushes the counts of polls voted in since the last push, at most four times a second per poll.</summary>
    public async Task PushUpdatesAsync(CancellationToken ct)
    {
        foreach (var (pollId, sessionId) in _dirty.ToArray())
        {
            // Across nodes: whoever sets the key pushes the counts of everyone's votes; the others wait a tick.
            if (!await store.Database.StringSetAsync($"poll:push:{pollId}", "1", PushEvery, When.NotExists))
            {
                continue;
            }

            _dirty.TryRemove(pollId, out _);
            var poll = await GetAsync(pollId, ct);
            if (poll is not null)
            {
                await broadcaster.PublishAsync(RoomTarget.Session, sessionId, "pollUpdated", new PollUpdated(poll.Id, poll.SessionId, poll.Counts));
            }
        }
    }

    private async Task CloseOneAsync(PollRow poll, CancellationToken ct)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var changed = await database.InTransactionAsync((c, tx) => c.ExecuteAsync(new CommandDefinition(
            "UPDATE polls SET status = 'closed', closed_at = @now, ends_at = CASE WHEN ends_at > @now THEN @now ELSE ends_at END WHERE id = @Id AND status = 'open'",
            new { now, poll.Id }, tx, cancellationToken: ct)), ct);
        if (changed == 0)
        {
            return; // closed before, here or on another node
        }

        _dirty.TryRemove(poll.Id, out _);
        var closed = await GetAsync(poll.Id, ct);
        if (closed is not null)
        {
            logger.LogInformation("Poll {Poll} closed with {Votes} votes", poll.Id, closed.TotalVotes);
            await broadcaster.PublishAsync(RoomTarget.Session, poll.SessionId, "pollUpdated", new PollUpdated(closed.Id, closed.SessionId, closed.Counts));
            await broadcaster.PublishAsync(RoomTarget.Session, poll.SessionId, "pollEnded", closed);
        }
    }

    private async Task<PollRow?> FindRowAsync(string pollId, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        return await c.QuerySingleOrDefaultAsync<PollRow>(new CommandDefinition(
            $"SELECT {PollRow.Columns} FROM polls WHERE id = @pollId", new { pollId }, cancellationToken: ct));
    }

    private async Task<Poll> WithCountsAsync(PollRow row, CancellationToken ct)
    {
        var options = row.OptionList();
        var counts = new long[options.Count];
        await using (var c = await database.OpenAsync(ct))
        {
            foreach (var (option, votes) in await c.QueryAsync<(long Option, long Votes)>(new CommandDefinition(
                "SELECT option_ix, COUNT(*) FROM poll_votes WHERE poll_id = @Id GROUP BY option_ix", new { row.Id }, cancellationToken: ct)))
            {
                if (option >= 0 && option < counts.Length)
                {
                    counts[option] = votes;
                }
            }
        }

        var status = row.Status == PollStatus.Open && row.EndsAt <= time.GetUtcNow().ToUnixTimeMilliseconds() ? PollStatus.Closed : row.Status;
        return ToPoll(row, counts, status);
    }

    private static Poll ToPoll(PollRow row, long[] counts, string status) =>
        new(row.Id, row.SessionId, row.Question, row.OptionList(), counts, counts.Sum(), DateTimeOffset.FromUnixTimeMilliseconds(row.StartsAt),
            DateTimeOffset.FromUnixTimeMilliseconds(row.EndsAt), status);

    private static ProblemHttpResult Closed() =>
        ApiProblem.Create(StatusCodes.Status409Conflict, "POLL_CLOSED", "The poll is closed", "Votes are taken only while the poll is open.");
}
