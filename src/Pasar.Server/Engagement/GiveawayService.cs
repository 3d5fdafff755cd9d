using System.Text.Json;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Pasar.Server.Coins;
using Pasar.Server.Live;
using Pasar.Server.LiveRoom;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Http;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Engagement;

/// <summary>
/// Provably fair coin giveaways. Start: the prize pool leaves the seller's balance (ledger GIVEAWAY_FUND), the
/// giveaway row with the seed's hash and the seed (its own table, read only by the draw) commit together. An
/// entry is a row under (giveaway, user) plus a conditional count on the giveaway (active, before its end). The
/// draw is one transaction that claims the giveaway (active → drawn), computes the winners from the committed
/// seed, credits each (GIVEAWAY, giveawayId:userId) and returns the unwon rest: a crash anywhere in it rolls it
/// all back, and the next tick, on any node, draws again with the same seed and the same entries.
/// </summary>
internal sealed class GiveawayService(
    Database database, LiveSessionStore sessions, CoinLedger coins, IRoomPresence presence, RoomBroadcaster broadcaster,
    TimeProvider time, ILogger<GiveawayService> logger)
{
    public async Task<Results<Created<Giveaway>, ProblemHttpResult, ValidationProblem>> StartAsync(
        string sessionId, string userId, StartGiveawayRequest body, CancellationToken ct)
    {
        var v = new RequestValidator()
            .Range("prizeCoins", body.PrizeCoins, 1, 1_000_000)
            .Range("winners", body.Winners, 1, 100)
            .Range("durationSeconds", body.DurationSeconds ?? 60, 5, 3600);
        if (!v.IsValid)
        {
            return ApiProblem.Validation(v.Errors);
        }

        var session = await sessions.FindAsync(sessionId, ct);
        if (session is null)
        {
            return ApiProblem.NotFound("SESSION_NOT_FOUND", "Live session");
        }

        if (!EngagementAccess.CanRunGiveaways(session, userId))
        {
            return ApiProblem.Forbidden("Only the session's seller can start a giveaway.");
        }

        if (session.Status != LiveStatus.Live)
        {
            return ApiProblem.Create(StatusCodes.Status409Conflict, "SESSION_NOT_LIVE", "The session is not live", "Giveaways run while you are on air.");
        }

        await DrawDueAsync(ct); // a giveaway whose time is up is drawn before a new one may start
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var seed = GiveawayDraw.NewSeed();
        var row = new GiveawayRow
        {
            Id = Ids.New(),
            SessionId = session.Id,
            SellerId = session.SellerId,
            PrizeCoins = body.PrizeCoins!.Value,
            WinnerCount = body.Winners!.Value,
            SeedHash = GiveawayDraw.SeedHash(seed),
            Status = GiveawayStatus.Active,
            StartsAt = now,
            EndsAt = now + ((body.DurationSeconds ?? 60) * 1000L),
        };
        var outcome = await database.InTransactionAsync<CommandOutcome<GiveawayRow>>(async (c, tx) =>
        {
            var inserted = await c.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO giveaways (id, session_id, seller_id, prize_coins, winner_count, seed_hash, entrants, status, starts_at, ends_at)
                VALUES (@Id, @SessionId, @SellerId, @PrizeCoins, @WinnerCount, @SeedHash, 0, 'active', @StartsAt, @EndsAt)
                ON CONFLICT (session_id) WHERE status = 'active' DO NOTHING
                """, row, tx, cancellationToken: ct));
            if (inserted == 0)
            {
                return CommandOutcome<GiveawayRow>.Refused(ApiProblem.Create(StatusCodes.Status409Conflict, "GIVEAWAY_ACTIVE", "A giveaway is already running",
                    "One giveaway at a time per live session; wait for the draw."));
            }

            await c.ExecuteAsync(new CommandDefinition(
                "INSERT INTO giveaway_seeds (giveaway_id, seed) VALUES (@Id, @seed)", new { row.Id, seed = GiveawayDraw.Hex(seed) }, tx, cancellationToken: ct));
            var (status, _) = await coins.ApplyAsync(c, tx, row.SellerId, -(row.PrizeCoins * row.WinnerCount), CoinSources.GiveawayFund, row.Id, ct);
            return status == CoinApplyStatus.Applied
                ? new CommandOutcome<GiveawayRow>(row, null)
                : CommandOutcome<GiveawayRow>.Refused(ApiProblem.Create(StatusCodes.Status409Conflict, "INSUFFICIENT_COINS", "Not enough coins",
                    $"The prize pool is {row.PrizeCoins * row.WinnerCount} coins, taken from your balance now."));
        }, ct);
        if (outcome.Value is null)
        {
            return outcome.Problem!;
        }

        var giveaway = ToGiveaway(row, null);
        await broadcaster.PublishAsync(RoomTarget.Session, giveaway.SessionId, "giveawayStarted", giveaway);
        return TypedResults.Created($"/api/giveaways/{giveaway.Id}", giveaway);
    }

    public async Task<Results<NoContent, ProblemHttpResult>> EnterAsync(string giveawayId, string userId, CancellationToken ct)
    {
        var giveaway = await FindRowAsync(giveawayId, ct);
        if (giveaway is null)
        {
            return ApiProblem.NotFound("GIVEAWAY_NOT_FOUND", "Giveaway");
        }

        if (giveaway.SellerId == userId)
        {
            return ApiProblem.Create(StatusCodes.Status403Forbidden, "OWN_GIVEAWAY", "Your own giveaway", "The seller cannot enter their own giveaway.");
        }

        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        if (giveaway.Status != GiveawayStatus.Active || now >= giveaway.EndsAt)
        {
            return Closed();
        }

        if (!await presence.IsUserPresentAsync(giveaway.SessionId, userId, ct))
        {
            return ApiProblem.Create(StatusCodes.Status409Conflict, "NOT_IN_ROOM", "Not in the room", "Join the live room to enter its giveaway.");
        }

        var outcome = await database.InTransactionAsync<CommandOutcome<string>>(async (c, tx) =>
        {
            var inserted = await c.ExecuteAsync(new CommandDefinition(
                "INSERT INTO giveaway_entries (giveaway_id, user_id, entered_at) VALUES (@giveawayId, @userId, @now) ON CONFLICT (giveaway_id, user_id) DO NOTHING",
                new { giveawayId, userId, now }, tx, cancellationToken: ct));
            if (inserted == 0)
            {
                return CommandOutcome<string>.Refused(ApiProblem.Create(StatusCodes.Status409Conflict, "ALREADY_ENTERED", "Already entered", "One entry per person in a giveaway."));
            }

            // Orders the entry before or after the draw's claim of the same row, never beside it.
            var counted = await c.ExecuteAsync(new CommandDefinition(
                "UPDATE giveaways SET entrants = entrants + 1 WHERE id = @giveawayId AND status = 'active' AND ends_at > @now",
                new { giveawayId, now }, tx, cancellationToken: ct));
            return counted == 1 ? new CommandOutcome<string>(giveawayId, null) : CommandOutcome<string>.Refused(Closed());
        }, ct);
        return outcome.Problem is not null ? outcome.Problem : TypedResults.NoContent();
    }

    public async Task<Giveaway?> GetAsync(string giveawayId, CancellationToken ct)
    {
        var row = await FindRowAsync(giveawayId, ct);
        if (row is null)
        {
            return null;
        }

        IReadOnlyList<string>? entrants = null;
        if (row.Status == GiveawayStatus.Drawn)
        {
            await using var c = await database.OpenAsync(ct);
            entrants = (await c.QueryAsync<string>(new CommandDefinition(
                "SELECT user_id FROM giveaway_entries WHERE giveaway_id = @giveawayId ORDER BY user_id", new { giveawayId }, cancellationToken: ct))).AsList();
        }

        return ToGiveaway(row, entrants);
    }

    public async Task<Giveaway?> ActiveForSessionAsync(string sessionId, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        var row = await c.QuerySingleOrDefaultAsync<GiveawayRow>(new CommandDefinition(
            $"SELECT {GiveawayRow.Columns} FROM giveaways WHERE session_id = @sessionId AND status = 'active'", new { sessionId }, cancellationToken: ct));
        return row is null ? null : ToGiveaway(row, null);
    }

    /// <summary>Draws every giveaway whose time is up; each draw happens once across nodes and crashes.</summary>
    public async Task DrawDueAsync(CancellationToken ct)
    {
        IReadOnlyList<string> due;
        await using (var c = await database.OpenAsync(ct))
        {
            due = (await c.QueryAsync<string>(new CommandDefinition(
                "SELECT id FROM giveaways WHERE status = 'active' AND ends_at <= @now",
                new { now = time.GetUtcNow().ToUnixTimeMilliseconds() }, cancellationToken: ct))).AsList();
        }

        foreach (var id in due)
        {
            await DrawAsync(id, ct);
        }
    }

    internal async Task<GiveawayDrawn?> DrawAsync(string giveawayId, CancellationToken ct)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var drawn = await database.InTransactionAsync<GiveawayDrawn?>(async (c, tx) =>
        {
            // The claim: only one transaction turns it from active to drawn; it also waits for entries in flight.
            var claimed = await c.ExecuteAsync(new CommandDefinition(
                "UPDATE giveaways SET status = 'drawn', drawn_at = @now WHERE id = @giveawayId AND status = 'active' AND ends_at <= @now",
                new { giveawayId, now }, tx, cancellationToken: ct));
            if (claimed == 0)
            {
                return null;
            }

            var g = await c.QuerySingleAsync<GiveawayRow>(new CommandDefinition(
                $"SELECT {GiveawayRow.Columns} FROM giveaways WHERE id = @giveawayId", new { giveawayId }, tx, cancellationToken: ct));
            var seedHex = await c.QuerySingleAsync<string>(new CommandDefinition(
                "SELECT seed FROM giveaway_seeds WHERE giveaway_id = @giveawayId", new { giveawayId }, tx, cancellationToken: ct));
            var entrants = (await c.QueryAsync<string>(new CommandDefinition(
                "SELECT user_id FROM giveaway_entries WHERE giveaway_id = @giveawayId", new { giveawayId }, tx, cancellationToken: ct))).AsList();
            var winners = GiveawayDraw.Winners(Convert.FromHexString(seedHex), entrants, (int)g.WinnerCount);
            foreach (var winner in winners)
            {
                await coins.ApplyAsync(c, tx, winner, g.PrizeCoins, CoinSources.Giveaway, $"{giveawayId}:{winner}", ct);
            }

            var returned = (g.WinnerCount - winners.Count) * g.PrizeCoins;
            if (returned > 0)
            {
                await coins.ApplyAsync(c, tx, g.SellerId, returned, CoinSources.GiveawayReturn, giveawayId, ct);
            }

            await c.ExecuteAsync(new CommandDefinition(
                "UPDATE giveaways SET revealed_seed = @seedHex, winner_ids = @ids, entrants = @count, returned = @returned WHERE id = @giveawayId",
                new { seedHex, ids = JsonSerializer.Serialize(winners), count = entrants.Count, returned, giveawayId }, tx, cancellationToken: ct));
            return new GiveawayDrawn(giveawayId, g.SessionId, winners);
        }, ct);
        if (drawn is not null)
        {
            logger.LogInformation("Giveaway {Giveaway} drawn: {Winners} winners", giveawayId, drawn.Winners.Count);
            await broadcaster.PublishAsync(RoomTarget.Session, drawn.SessionId, "giveawayDrawn", drawn);
        }

        return drawn;
    }

    private async Task<GiveawayRow?> FindRowAsync(string giveawayId, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        return await c.QuerySingleOrDefaultAsync<GiveawayRow>(new CommandDefinition(
            $"SELECT {GiveawayRow.Columns} FROM giveaways WHERE id = @giveawayId", new { giveawayId }, cancellationToken: ct));
    }

    private static Giveaway ToGiveaway(GiveawayRow row, IReadOnlyList<string>? entrantIds)
    {
        var drawn = row.Status == GiveawayStatus.Drawn;
        return new Giveaway(row.Id, row.SessionId, row.SellerId, row.PrizeCoins, (int)row.WinnerCount, row.SeedHash, (int)row.Entrants,
            DateTimeOffset.FromUnixTimeMilliseconds(row.StartsAt), DateTimeOffset.FromUnixTimeMilliseconds(row.EndsAt), row.Status,
            drawn ? row.RevealedSeed : null,
            drawn ? entrantIds : null,
            drawn && row.WinnerIds is { } w ? JsonSerializer.Deserialize<string[]>(w) : null,
            row.DrawnAt is { } at ? DateTimeOffset.FromUnixTimeMilliseconds(at) : null);
    }

    private static ProblemHttpResult Closed() =>
        ApiProblem.Create(StatusCodes.Status409Conflict, "GIVEAWAY_CLOSED", "The giveaway is closed", "Entries are taken only until the giveaway's end.");
}
