using System.Data.Common;
using Dapper;
using Microsoft.Extensions.Options;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Events;
using Pasar.Server.Platform.Http;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Coins;

internal static class CoinSources
{
    public const string CheckIn = "CHECKIN";
    public const string Shake = "SHAKE";
    public const string Referral = "REFERRAL";
    public const string OrderRedeem = "ORDER_REDEEM";
    public const string Adjustment = "ADJUSTMENT";

    /// <summary>A seller's giveaway prize pool, taken at start (reference: the giveaway id).</summary>
    public const string GiveawayFund = "GIVEAWAY_FUND";

    /// <summary>A giveaway prize (reference: giveaway id + ':' + user id).</summary>
    public const string Giveaway = "GIVEAWAY";

    /// <summary>The part of a giveaway's pool nobody won, back to the seller (reference: the giveaway id).</summary>
    public const string GiveawayReturn = "GIVEAWAY_RETURN";
}

internal sealed record CoinEntry(string Id, string UserId, long Amount, string Source, string Reference, DateTimeOffset CreatedAt, long BalanceAfter);

internal enum CoinApplyStatus
{
    Applied,

    /// <summary>An entry with this (source, reference) exists: the effect was applied before.</summary>
    Duplicate,

    /// <summary>A debit larger than the balance; the caller must roll back its transaction.</summary>
    Insufficient,
}

/// <summary>Coins were added to a user's balance (drives the COINS_EARNED notification).</summary>
internal sealed record CoinsAwarded(string UserId, long Amount, string Source, string Reference, long BalanceAfter, DateTimeOffset At) : IIntegrationEvent;

/// <summary>
/// The coin wallet. Every change is a ledger row plus a conditional balance update in the caller's
/// transaction, so the balance always equals the sum of its ledger and never goes below zero.
/// </summary>
internal sealed class CoinLedger(Database database, Outbox outbox, TimeProvider time, IOptions<CoinOptions> options) : ICoinRedemption
{
    public int MaxRedeemPercent => options.Value.MaxRedeemPercent;

    /// <summary>
    /// Applies <paramref name="amount"/> (negative for a spend) once per (source, reference). On
    /// <see cref="CoinApplyStatus.Insufficient"/> a ledger row has been written: roll the transaction back.
    /// </summary>
    public async Task<(CoinApplyStatus Status, CoinEntry? Entry)> ApplyAsync(
        DbConnection c, DbTransaction tx, string userId, long amount, string source, string reference, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        var at = now.ToUnixTimeMilliseconds();
        var id = Ids.New();
        // The ledger row goes first: a concurrent duplicate waits on the unique index and then does nothing.
        var inserted = await c.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO coin_ledger (id, user_id, amount, source, reference, created_at, balance_after)
            VALUES (@id, @userId, @amount, @source, @reference, @at, 0) ON CONFLICT (source, reference) DO NOTHING
            """,
            new { id, userId, amount, source, reference, at }, tx, cancellationToken: ct));
        if (inserted == 0)
        {
            return (CoinApplyStatus.Duplicate, null);
        }

        await c.ExecuteAsync(new CommandDefinition(
            "INSERT INTO coin_balances (user_id, balance, updated_at) VALUES (@userId, 0, @at) ON CONFLICT (user_id) DO NOTHING",
            new { userId, at }, tx, cancellationToken: ct));
        var balance = await c.QuerySingleOrDefaultAsync<long?>(new CommandDefinition(
            "UPDATE coin_balances SET balance = balance + @amount, updated_at = @at WHERE user_id = @userId AND balance + @amount >= 0 RETURNING balance",
            new { userId, amount, at }, tx, cancellationToken: ct));
        if (balance is null)
        {
            return (CoinApplyStatus.Insufficient, null);
        }

        await c.ExecuteAsync(new CommandDefinition(
            "UPDATE coin_ledger SET balance_after = @balance WHERE id = @id", new { balance, id }, tx, cancellationToken: ct));
        if (amount > 0)
        {
            await outbox.EnqueueAsync(c, tx, new CoinsAwarded(userId, amount, source, reference, balance.Value, now), ct);
        }

        return (CoinApplyStatus.Applied, new CoinEntry(id, userId, amount, source, reference, DateTimeOffset.FromUnixTimeMilliseconds(at), balance.Value));
    }

    /// <summary>Spends coins on an order, in the order's transaction (the seam Orders uses).</summary>
    public async Task<bool> TryRedeemAsync(DbConnection c, DbTransaction tx, string userId, long coins, string orderId, CancellationToken ct) =>
        (await ApplyAsync(c, tx, userId, -coins, CoinSources.OrderRedeem, orderId, ct)).Status == CoinApplyStatus.Applied;

    public static async Task<long> BalanceAsync(DbConnection c, string userId, CancellationToken ct) =>
        await c.ExecuteScalarAsync<long?>(new CommandDefinition(
            "SELECT balance FROM coin_balances WHERE user_id = @userId", new { userId }, cancellationToken: ct)) ?? 0;

    /// <summary>A user's ledger entries, newest first, one page.</summary>
    public Task<Page<CoinEntry>> PageAsync(string userId, PageRequest page, CancellationToken ct) =>
        database.QueryPageAsync<EntryRow, CoinEntry>(page,
            $"SELECT {EntryColumns} FROM coin_ledger WHERE user_id = @userId AND {page.Condition("created_at", "id")} ORDER BY created_at DESC, id DESC LIMIT @fetch",
            new { userId }, r => r.CreatedAt, r => r.Id, r => r.ToEntry(), ct);

    /// <summary>The entry recorded for (source, reference): the effect applied earlier under that key.</summary>
    public static async Task<CoinEntry> FindAsync(DbConnection c, DbTransaction tx, string source, string reference, CancellationToken ct) =>
        (await c.QuerySingleAsync<EntryRow>(new CommandDefinition(
            $"SELECT {EntryColumns} FROM coin_ledger WHERE source = @source AND reference = @reference",
            new { source, reference }, tx, cancellationToken: ct))).ToEntry();

    internal const string EntryColumns =
        "id AS Id, user_id AS UserId, amount AS Amount, source AS Source, reference AS Reference, created_at AS CreatedAt, balance_after AS BalanceAfter";

    internal sealed class EntryRow
    {
        public string Id { get; init; } = "";
        public string UserId { get; init; } = "";
        public long Amount { get; init; }
        public string Source { get; init; } = "";
        public string Reference { get; init; } = "";
        public long CreatedAt { get; init; }
        public long BalanceAfter { get; init; }

        public CoinEntry ToEntry() => new(Id, UserId, Amount, Source, Reference, DateTimeOffset.FromUnixTimeMilliseconds(CreatedAt), BalanceAfter);
    }
}
