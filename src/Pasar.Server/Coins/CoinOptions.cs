namespace Pasar.Server.Coins;

/// <summary>The coin wallet's settings (<c>Pasar:Coins</c>).</summary>
internal sealed class CoinOptions
{
    public int MaxRedeemPercent { get; set; } = 25;
}
