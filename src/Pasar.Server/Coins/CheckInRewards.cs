namespace Pasar.Server.Coins;

/// <summary>The 30-day check-in cycle: day 1: 10, 2: 20, 3: 30, 7: 100, 14: 250, 30: 1000 (bonus days), any other day n: n × 10.</summary>
internal static class CheckInRewards
{
    public const int CycleLength = 30;

    /// <summary>The day of the cycle for a streak day: 1..30, then 1 again on streak day 31.</summary>
    public static int CycleDay(int streakDay) => ((streakDay - 1) % CycleLength) + 1;

    public static (long Coins, bool Bonus) For(int streakDay) => CycleDay(streakDay) switch
    {
        7 => (100, true),
        14 => (250, true),
        30 => (1000, true),
        var n => (n * 10L, false),
    };
}
