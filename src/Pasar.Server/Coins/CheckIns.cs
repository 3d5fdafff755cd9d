using Dapper;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Coins;

/// <summary>Daily check-ins: the <c>check_ins</c> table, the streak rule and the award through the ledger.</summary>
internal sealed class CheckIns(Database db, CoinLedger ledger, RegionClock clock)
{
    /// <summary>Checks the user in for today (region day); null when they already did.</summary>
    public async Task<CheckInResult?> CheckInAsync(string userId, CancellationToken ct)
    {
        var today = clock.Today();
        return await db.InTransactionAsync(async (c, tx) =>
        {
            var last = await c.QuerySingleOrDefaultAsync<(string Day, long StreakDay)?>(new CommandDefinition(
                "SELECT day, streak_day FROM check_ins WHERE user_id = @userId ORDER BY day DESC LIMIT 1", new { userId }, tx, cancellationToken: ct));
            if (last?.Day == RegionClock.Key(today))
            {
                return null;
            }

            var streak = last?.Day == RegionClock.Key(today.AddDays(-1)) ? (int)last.Value.StreakDay + 1 : 1;
            var (coins, bonus) = CheckInRewards.For(streak);
            var result = new CheckInResult(streak, CheckInRewards.CycleDay(streak), coins, bonus, RegionClock.Key(today));
            // The (user, day) primary key is what makes simultaneous check-ins give exactly one award.
            var inserted = await c.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO check_ins (user_id, day, streak_day, cycle_day, coins, bonus, created_at)
                VALUES (@userId, @Date, @StreakDay, @CycleDay, @Coins, @bonus, @at) ON CONFLICT DO NOTHING
                """,
                new { userId, result.Date, result.StreakDay, result.CycleDay, result.Coins, bonus = bonus ? 1 : 0, at = clock.Time.GetUtcNow().ToUnixTimeMilliseconds() },
                tx, cancellationToken: ct));
            if (inserted == 0)
            {
                return null;
            }

            await ledger.ApplyAsync(c, tx, userId, coins, CoinSources.CheckIn, $"{userId}:{result.Date}", ct);
            return result;
        }, ct);
    }

    /// <summary>The streak as of today, whether today is done, the next reward and the last 30 check-ins.</summary>
    public async Task<CheckInStatus> StatusAsync(string userId, CancellationToken ct)
    {
        var today = clock.Today();
        await using var c = await db.OpenAsync(ct);
        var recent = (await c.QueryAsync<(string Day, long StreakDay, long Coins)>(new CommandDefinition(
            "SELECT day, streak_day, coins FROM check_ins WHERE user_id = @userId ORDER BY day DESC LIMIT 30",
            new { userId }, cancellationToken: ct))).AsList();
        var checkedInToday = recent.Count > 0 && recent[0].Day == RegionClock.Key(today);
        var streakAlive = recent.Count > 0 && (checkedInToday || recent[0].Day == RegionClock.Key(today.AddDays(-1)));
        var streak = streakAlive ? (int)recent[0].StreakDay : 0;
        var (next, nextBonus) = CheckInRewards.For(streak + 1);
        return new CheckInStatus(streak, checkedInToday, next, nextBonus, recent.Select(r => new CheckInDay(r.Day, r.Coins)).ToList());
    }
}
