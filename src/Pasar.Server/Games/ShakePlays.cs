using Dapper;
using Microsoft.Extensions.Options;
using Pasar.Server.Coins;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Games;

/// <summary>
/// A Shake-Shake play: the hot gate takes the play and the coins from the day's budget, then the <c>shake_plays</c>
/// row and the ledger entry commit together. SQL is the truth when the two disagree.
/// </summary>
internal sealed class ShakePlays(ShakeGate gate, IShakeRandom random, RegionClock clock, Database db, CoinLedger ledger, IOptions<ShakeOptions> options, PasarMetrics metrics)
{
    /// <summary>Plays once; null when the user has no plays left today.</summary>
    public async Task<ShakeResult?> PlayAsync(string userId, int shakePower, CancellationToken ct)
    {
        var day = RegionClock.Key(clock.Today());
        var rules = options.Value;
        var draw = ShakeRewards.Draw(random, shakePower);
        for (var attempt = 0; attempt < 4; attempt++)
        {
            var (result, playNo, coins) = await gate.TryTakeAsync(userId, day, rules.PlaysPerDay, rules.DailyBudget, draw.Coins);
            if (result == ShakeGate.Result.NeedsPlaysSeed)
            {
                await gate.SeedPlaysAsync(userId, day, await PlaysTodayAsync(userId, day, ct));
                continue;
            }

            if (result == ShakeGate.Result.NeedsPaidSeed)
            {
                await gate.SeedPaidAsync(userId, day, await PaidTodayAsync(day, ct));
                continue;
            }

            if (result == ShakeGate.Result.LimitReached)
            {
                return null;
            }

            bool recorded;
            try
            {
                recorded = await RecordAsync(userId, day, playNo, shakePower, draw, coins, ct);
            }
            catch
            {
                await gate.ReleaseAsync(userId, day, coins);
                throw;
            }

            if (recorded)
            {
                metrics.ShakePlays.Add(1, new KeyValuePair<string, object?>("band", draw.Band.ToString()));
                return new ShakeResult(coins, rules.PlaysPerDay - playNo, draw.Jackpot);
            }

            // SQL already holds this play number: the gate was behind SQL (hot state lost mid-play). SQL wins.
            await gate.ReleaseAsync(userId, day, coins);
            await gate.ResyncPlaysAsync(userId, day, await PlaysTodayAsync(userId, day, ct));
        }

        return null;
    }

    private async Task<bool> RecordAsync(string userId, string day, int playNo, int power, ShakeDraw draw, long coins, CancellationToken ct) =>
        await db.InTransactionAsync(async (c, tx) =>
        {
            var id = Ids.New();
            var inserted = await c.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO shake_plays (id, user_id, day, play_no, shake_power, band, coins, created_at)
                VALUES (@id, @userId, @day, @playNo, @power, @band, @coins, @at) ON CONFLICT DO NOTHING
                """,
                new { id, userId, day, playNo, power, band = draw.Band.ToString(), coins, at = clock.Time.GetUtcNow().ToUnixTimeMilliseconds() },
                tx, cancellationToken: ct));
            if (inserted == 0)
            {
                return false;
            }

            if (coins > 0)
            {
                await ledger.ApplyAsync(c, tx, userId, coins, CoinSources.Shake, id, ct);
            }

            return true;
        }, ct);

    private async Task<long> PlaysTodayAsync(string userId, string day, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return await c.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM shake_plays WHERE user_id = @userId AND day = @day", new { userId, day }, cancellationToken: ct));
    }

    private async Task<long> PaidTodayAsync(string day, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return await c.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COALESCE(SUM(coins), 0) FROM shake_plays WHERE day = @day", new { day }, cancellationToken: ct));
    }
}
