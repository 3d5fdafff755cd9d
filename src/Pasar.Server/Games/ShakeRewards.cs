using System.Security.Cryptography;

namespace Pasar.Server.Games;

/// <summary>The random source of Shake-Shake. Cryptographically secure by default; tests may replace it.</summary>
internal interface IShakeRandom
{
    /// <summary>A uniform integer in [0, <paramref name="maxExclusive"/>).</summary>
    int Next(int maxExclusive);
}

internal sealed class CryptoShakeRandom : IShakeRandom
{
    public int Next(int maxExclusive) => RandomNumberGenerator.GetInt32(maxExclusive);
}

internal enum ShakeBand
{
    Small,
    Medium,
    Large,
    Jackpot,
}

internal readonly record struct ShakeDraw(ShakeBand Band, long Coins)
{
    public bool Jackpot => Band == ShakeBand.Jackpot;
}

/// <summary>
/// The reward table: 1 %: jackpot 500; 4 %: 51–100; 25 %: 11–50; 70 %: 1–10. Inside a band the shake power
/// (0–100) places the amount: <c>min + round((max − min) × power / 100)</c>.
/// </summary>
internal static class ShakeRewards
{
    public const long JackpotCoins = 500;

    public static ShakeDraw Draw(IShakeRandom random, int shakePower)
    {
        var roll = random.Next(10_000); // basis points
        var band = roll switch
        {
            < 100 => ShakeBand.Jackpot,
            < 500 => ShakeBand.Large,
            < 3_000 => ShakeBand.Medium,
            _ => ShakeBand.Small,
        };
        return new ShakeDraw(band, Amount(band, shakePower));
    }

    public static long Amount(ShakeBand band, int shakePower)
    {
        var (min, max) = band switch
        {
            ShakeBand.Jackpot => (JackpotCoins, JackpotCoins),
            ShakeBand.Large => (51L, 100L),
            ShakeBand.Medium => (11L, 50L),
            _ => (1L, 10L),
        };
        return min + (long)Math.Round((max - min) * shakePower / 100.0, MidpointRounding.AwayFromZero);
    }
}
