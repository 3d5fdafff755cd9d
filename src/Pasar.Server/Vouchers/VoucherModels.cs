namespace Pasar.Server.Vouchers;

/// <summary>A voucher dropped in a live room (the <c>voucherDropped</c> push and the room's <c>activeVouchers</c>).</summary>
public sealed record Voucher(
    string Id, string SessionId, string SellerId, long DiscountMinor, string Currency, long MinSpendMinor, int Quantity, int Remaining, int PerUserLimit,
    DateTimeOffset StartsAt, DateTimeOffset EndsAt, string Status);

/// <summary>A voucher's remaining count changed (pushed at most four times a second).</summary>
public sealed record VoucherUpdated(string Id, string SessionId, int Remaining);

internal sealed record DropVoucherRequest(long? DiscountMinor, string? Currency, long? MinSpendMinor, int? Quantity, int? PerUserLimit, int? DurationSeconds);

/// <summary>One claim of a voucher: what the buyer may spend on one order of the seller's products.</summary>
internal sealed record VoucherClaim(
    string VoucherId, string ClaimId, string SessionId, string SellerId, long DiscountMinor, string Currency, long MinSpendMinor, DateTimeOffset ClaimedAt);

internal sealed record MyVoucherClaims(IReadOnlyList<VoucherClaim> Items);

/// <summary>A voucher for its seller's studio: how many were claimed and how many paid for an order.</summary>
internal sealed record VoucherReport(Voucher Voucher, int Claimed, int Redeemed);

internal sealed record SessionVouchers(IReadOnlyList<VoucherReport> Items);

internal static class VoucherStatus
{
    public const string Active = "active";
    public const string Ended = "ended";
}

internal sealed class VoucherRow
{
    public string Id { get; init; } = "";
    public string SessionId { get; init; } = "";
    public string SellerId { get; init; } = "";
    public long DiscountMinor { get; init; }
    public string Currency { get; init; } = "";
    public long MinSpendMinor { get; init; }
    public long Quantity { get; init; }
    public long Claimed { get; init; }
    public long PerUserLimit { get; init; }
    public long StartsAt { get; init; }
    public long EndsAt { get; init; }

    public const string Columns =
        "id AS Id, session_id AS SessionId, seller_id AS SellerId, discount_minor AS DiscountMinor, currency AS Currency, min_spend_minor AS MinSpendMinor, quantity AS Quantity, claimed AS Claimed, per_user_limit AS PerUserLimit, starts_at AS StartsAt, ends_at AS EndsAt";

    public Voucher ToVoucher(long nowMs) => new(Id, SessionId, SellerId, DiscountMinor, Currency, MinSpendMinor, (int)Quantity, (int)(Quantity - Claimed), (int)PerUserLimit,
        DateTimeOffset.FromUnixTimeMilliseconds(StartsAt), DateTimeOffset.FromUnixTimeMilliseconds(EndsAt), nowMs < EndsAt ? VoucherStatus.Active : VoucherStatus.Ended);
}

internal sealed class ClaimRow
{
    public string ClaimId { get; init; } = "";
    public string VoucherId { get; init; } = "";
    public string UserId { get; init; } = "";
    public string SessionId { get; init; } = "";
    public string SellerId { get; init; } = "";
    public long DiscountMinor { get; init; }
    public string Currency { get; init; } = "";
    public long MinSpendMinor { get; init; }
    public long ClaimedAt { get; init; }
    public string? UsedOrderId { get; init; }

    public const string Select =
        """
        SELECT c.id AS ClaimId, c.voucher_id AS VoucherId, c.user_id AS UserId, v.session_id AS SessionId, v.seller_id AS SellerId, v.discount_minor AS DiscountMinor,
               v.currency AS Currency, v.min_spend_minor AS MinSpendMinor, c.claimed_at AS ClaimedAt, c.used_order_id AS UsedOrderId
        FROM voucher_claims c JOIN vouchers v ON v.id = c.voucher_id
        """;

    public VoucherClaim ToClaim() => new(VoucherId, ClaimId, SessionId, SellerId, DiscountMinor, Currency, MinSpendMinor, DateTimeOffset.FromUnixTimeMilliseconds(ClaimedAt));
}

/// <summary><c>Pasar:Vouchers:*</c>.</summary>
internal sealed class VoucherOptions
{
    /// <summary><c>SqlOnly</c> is the benchmark floor: every claim is the guarded SQL transaction (ADR 0019).</summary>
    public Platform.GateKind Gate { get; set; } = Platform.GateKind.Redis;
}
