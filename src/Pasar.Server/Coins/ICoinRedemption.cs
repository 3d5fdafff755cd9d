using System.Data.Common;

namespace Pasar.Server.Coins;

/// <summary>What an order needs of the coin wallet: the cap, and a spend in the order's own transaction.</summary>
internal interface ICoinRedemption
{
    /// <summary>The most of an order's subtotal, in percent, that coins may pay (<c>Pasar:Coins:MaxRedeemPercent</c>).</summary>
    int MaxRedeemPercent { get; }

    /// <summary>Spends <paramref name="coins"/> of <paramref name="userId"/>'s balance for <paramref name="orderId"/>; false when the balance is short (nothing changed).</summary>
    Task<bool> TryRedeemAsync(DbConnection c, DbTransaction tx, string userId, long coins, string orderId, CancellationToken ct);
}
