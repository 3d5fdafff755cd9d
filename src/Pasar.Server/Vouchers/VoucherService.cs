using System.Collections.Concurrent;
using System.Data.Common;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Pasar.Server.Live;
using Pasar.Server.LiveRoom;
using Pasar.Server.Orders;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Http;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Vouchers;

/// <summary>
/// Live vouchers (SPEC §15, ADR 0019). A seller drops a number of claims; a claim passes the Redis/Garnet gate
/// (remaining and the user's limit, atomically), then commits under SQL's guards (the conditional counter and the
/// unique unit and per-user slot); a failure after the gate gives the claim back. An order spends a claim once
/// through <see cref="IOrderDiscount"/>. Unclaimed quantity simply ends with the drop's window.
/// </summary>
internal sealed class VoucherService(
    Database database,
    VoucherGate gate,
    IdempotencyStore idempotency,
    RoomBroadcaster broadcaster,
    TimeProvider time,
    Microsoft.Extensions.Options.IOptions<VoucherOptions> options) : IOrderDiscount
{
    private readonly bool _sqlOnly = options.Value.Gate == Platform.GateKind.SqlOnly;
    private readonly ConcurrentDictionary<string, VoucherRow> _vouchers = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _dirty = new(StringComparer.Ordinal);

    public async Task<Results<Created<Voucher>, ProblemHttpResult, ValidationProblem>> DropAsync(LiveSessionRow session, DropVoucherRequest body, CancellationToken ct)
    {
        var v = new RequestValidator()
            .Range("discountMinor", body.DiscountMinor, 1, Catalog.ProductsApi.MaxPriceMinor)
            .Currency("currency", body.Currency)
            .Range("minSpendMinor", body.MinSpendMinor ?? 0, 0, Catalog.ProductsApi.MaxPriceMinor)
            .Range("quantity", body.Quantity, 1, 1_000_000)
            .Range("perUserLimit", body.PerUserLimit ?? 1, 1, 100)
            .Range("durationSeconds", body.DurationSeconds ?? 300, 10, 3600);
        if (!v.IsValid)
        {
            return ApiProblem.Validation(v.Errors);
        }

        if (session.Status != LiveStatus.Live)
        {
            return ApiProblem.Create(StatusCodes.Status409Conflict, "SESSION_NOT_LIVE", "The session is not live", "Vouchers are dropped while you are on air.");
        }

        var now = time.GetUtcNow();
        var row = new VoucherRow
        {
            Id = Ids.New(),
            SessionId = session.Id,
            SellerId = session.SellerId,
            DiscountMinor = body.DiscountMinor!.Value,
            Currency = body.Currency!,
            MinSpendMinor = body.MinSpendMinor ?? 0,
            Quantity = body.Quantity!.Value,
            Claimed = 0,
            PerUserLimit = body.PerUserLimit ?? 1,
            StartsAt = now.ToUnixTimeMilliseconds(),
            EndsAt = now.AddSeconds(body.DurationSeconds ?? 300).ToUnixTimeMilliseconds(),
        };
        await using (var c = await database.OpenAsync(ct))
        {
            await c.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO vouchers (id, session_id, seller_id, discount_minor, currency, min_spend_minor, quantity, claimed, per_user_limit, starts_at, ends_at, created_at)
                VALUES (@Id, @SessionId, @SellerId, @DiscountMinor, @Currency, @MinSpendMinor, @Quantity, 0, @PerUserLimit, @StartsAt, @EndsAt, @StartsAt)
                """, row, cancellationToken: ct));
        }

        _vouchers[row.Id] = row;
        await gate.RebuildAsync(row.Id, ct);
        var voucher = row.ToVoucher(row.StartsAt);
        await broadcaster.PublishAsync(RoomTarget.Session, session.Id, "voucherDropped", voucher);
        return TypedResults.Created($"/api/vouchers/{row.Id}", voucher);
    }

    public async Task<Results<Created<VoucherClaim>, ProblemHttpResult, ValidationProblem>> ClaimAsync(
        string voucherId, string userId, string? idempotencyKey, CancellationToken ct)
    {
        if (idempotencyKey is not null && !IdempotencyStore.IsValidKey(idempotencyKey))
        {
            return IdempotencyStore.InvalidKey();
        }

        var voucher = await FindCachedAsync(voucherId, ct);
        if (voucher is null)
        {
            return ApiProblem.NotFound("VOUCHER_NOT_FOUND", "Voucher");
        }

        var scope = "voucher:" + voucherId;
        var requestHash = IdempotencyStore.HashRequest(scope, voucherId);
        if (time.GetUtcNow().ToUnixTimeMilliseconds() >= voucher.EndsAt)
        {
            return await ReplayAsync(userId, idempotencyKey, requestHash, ct) ?? Refused("VOUCHER_EXPIRED");
        }

        // The hot path: a burst of taps is answered by the gate alone. Only a request whose key passed the gate
        // before can be a retry, so only those refusals look for a stored response (GateRetryKeys).
        var taken = _sqlOnly ? VoucherGate.Result.Taken : await gate.TryTakeAsync(voucherId, userId, (int)voucher.PerUserLimit, idempotencyKey, ct);
        if (taken != VoucherGate.Result.Taken)
        {
            if (taken is VoucherGate.Result.LimitReachedMaybeRetry or VoucherGate.Result.SoldOutAfterClaiming
                && await ReplayAsync(userId, idempotencyKey, requestHash, ct) is { } replay)
            {
                return replay;
            }

            return Refused(taken is VoucherGate.Result.LimitReached or VoucherGate.Result.LimitReachedMaybeRetry ? "LIMIT_REACHED" : "SOLD_OUT");
        }

        CommandOutcome<VoucherClaim> outcome;
        try
        {
            outcome = await idempotency.ExecuteAsync(userId, idempotencyKey, scope, requestHash, (c, tx) => CommitAsync(c, tx, voucher, userId, ct), ct);
        }
        catch when (!_sqlOnly)
        {
            await gate.ReleaseAsync(voucherId, userId);
            throw;
        }

        if (!_sqlOnly && (outcome.Value is null || outcome.Replayed))
        {
            await gate.ReleaseAsync(voucherId, userId); // SQL said no (or a racing retry won): the claim goes back
        }

        if (outcome.Value is null)
        {
            return outcome.Problem!;
        }

        _dirty[voucherId] = 0;
        return TypedResults.Created("/api/me/vouchers", outcome.Value);
    }

    private async Task<CommandOutcome<VoucherClaim>> CommitAsync(DbConnection c, DbTransaction tx, VoucherRow voucher, string userId, CancellationToken ct)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var unit = await c.QuerySingleOrDefaultAsync<long?>(new CommandDefinition(
            """
            UPDATE vouchers SET claimed = claimed + 1
            WHERE id = @Id AND claimed < quantity AND starts_at <= @now AND ends_at > @now
            RETURNING claimed
            """, new { voucher.Id, now }, tx, cancellationToken: ct));
        if (unit is null)
        {
            var endsAt = await c.QuerySingleAsync<long>(new CommandDefinition("SELECT ends_at FROM vouchers WHERE id = @Id", new { voucher.Id }, tx, cancellationToken: ct));
            return CommandOutcome<VoucherClaim>.Refused(Refused(endsAt <= now ? "VOUCHER_EXPIRED" : "SOLD_OUT"));
        }

        // The user's next slot, below the limit; the unique (voucher, user, slot) turns a racing second claim away.
        var claimId = Ids.New();
        var inserted = await c.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO voucher_claims (id, voucher_id, user_id, unit, user_slot, claimed_at)
            SELECT @claimId, @Id, @userId, @unit, counted.n + 1, @now
            FROM (SELECT COUNT(*) AS n FROM voucher_claims WHERE voucher_id = @Id AND user_id = @userId) counted
            WHERE counted.n < @PerUserLimit
            ON CONFLICT DO NOTHING
            """, new { claimId, voucher.Id, userId, unit, now, voucher.PerUserLimit }, tx, cancellationToken: ct));
        if (inserted == 0)
        {
            return CommandOutcome<VoucherClaim>.Refused(Refused("LIMIT_REACHED"));
        }

        return new CommandOutcome<VoucherClaim>(new VoucherClaim(voucher.Id, claimId, voucher.SessionId, voucher.SellerId, voucher.DiscountMinor, voucher.Currency,
            voucher.MinSpendMinor, DateTimeOffset.FromUnixTimeMilliseconds(now)), null);
    }

    private async Task<Results<Created<VoucherClaim>, ProblemHttpResult, ValidationProblem>?> ReplayAsync(string userId, string? key, string requestHash, CancellationToken ct)
    {
        if (key is null)
        {
            return null;
        }

        await using var c = await database.OpenAsync(ct);
        if (await IdempotencyStore.FindAsync(c, userId, key, ct) is not { StatusCode: 201 } stored)
        {
            return null;
        }

        return stored.RequestHash == requestHash
            ? TypedResults.Created("/api/me/vouchers", System.Text.Json.JsonSerializer.Deserialize<VoucherClaim>(stored.ResponseBody, System.Text.Json.JsonSerializerOptions.Web)!)
            : IdempotencyStore.Mismatch();
    }

    internal static ProblemHttpResult Refused(string code) => code switch
    {
        "SOLD_OUT" => ApiProblem.Create(StatusCodes.Status409Conflict, code, "All claimed", "Every claim of this voucher is taken."),
        "LIMIT_REACHED" => ApiProblem.Create(StatusCodes.Status409Conflict, code, "Limit reached", "You have claimed this voucher as often as it allows."),
        _ => ApiProblem.Create(StatusCodes.Status409Conflict, "VOUCHER_EXPIRED", "The voucher has ended", "This voucher can no longer be claimed."),
    };

    /// <summary>Spends a claim on an order, inside the order's transaction (a refusal marks nothing).</summary>
    public async Task<DiscountOutcome> ApplyAsync(DbConnection c, DbTransaction tx, string claimId, DiscountTarget target, CancellationToken ct)
    {
        var claim = await c.QuerySingleOrDefaultAsync<ClaimRow>(new CommandDefinition(ClaimRow.Select + " WHERE c.id = @claimId", new { claimId }, tx, cancellationToken: ct));
        if (claim is null || claim.UserId != target.BuyerId)
        {
            return new DiscountOutcome(0, OrderRefusal.ClaimNotFound);
        }

        if (claim.UsedOrderId is not null)
        {
            return new DiscountOutcome(0, OrderRefusal.VoucherUsed);
        }

        if (claim.SellerId != target.SellerId || claim.Currency != target.Currency)
        {
            return new DiscountOutcome(0, OrderRefusal.VoucherNotApplicable);
        }

        if (target.SubtotalMinor < claim.MinSpendMinor)
        {
            return new DiscountOutcome(0, OrderRefusal.VoucherMinSpend);
        }

        var discount = Math.Min(claim.DiscountMinor, target.SubtotalMinor);
        var used = await c.ExecuteAsync(new CommandDefinition(
            "UPDATE voucher_claims SET used_order_id = @OrderId, used_at = @AtMs, discount_applied_minor = @discount WHERE id = @claimId AND used_order_id IS NULL",
            new { target.OrderId, target.AtMs, discount, claimId }, tx, cancellationToken: ct));
        return used == 1 ? new DiscountOutcome(discount, null) : new DiscountOutcome(0, OrderRefusal.VoucherUsed);
    }

    public async Task<IReadOnlyList<VoucherClaim>> UnusedClaimsAsync(string userId, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        var rows = await c.QueryAsync<ClaimRow>(new CommandDefinition(
            ClaimRow.Select + " WHERE c.user_id = @userId AND c.used_order_id IS NULL ORDER BY c.claimed_at DESC, c.id DESC LIMIT 200", new { userId }, cancellationToken: ct));
        return rows.Select(r => r.ToClaim()).ToList();
    }

    public async Task<Voucher?> GetAsync(string voucherId, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        var row = await c.QuerySingleOrDefaultAsync<VoucherRow>(new CommandDefinition(
            $"SELECT {VoucherRow.Columns} FROM vouchers WHERE id = @voucherId", new { voucherId }, cancellationToken: ct));
        return row?.ToVoucher(time.GetUtcNow().ToUnixTimeMilliseconds());
    }

    /// <summary>The session's vouchers that can still be claimed (a sold-out one stays until its window ends).</summary>
    public async Task<IReadOnlyList<Voucher>> ActiveForSessionAsync(string sessionId, CancellationToken ct)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var c = await database.OpenAsync(ct);
        var rows = await c.QueryAsync<VoucherRow>(new CommandDefinition(
            $"SELECT {VoucherRow.Columns} FROM vouchers WHERE session_id = @sessionId AND ends_at > @now ORDER BY created_at, id",
            new { sessionId, now }, cancellationToken: ct));
        return rows.Select(r => r.ToVoucher(now)).ToList();
    }

    /// <summary>Every voucher of a session with its claims and redemptions, newest first (the seller's studio).</summary>
    public async Task<IReadOnlyList<VoucherReport>> ReportAsync(string sessionId, CancellationToken ct)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        await using var c = await database.OpenAsync(ct);
        var rows = (await c.QueryAsync<VoucherRow>(new CommandDefinition(
            $"SELECT {VoucherRow.Columns} FROM vouchers WHERE session_id = @sessionId ORDER BY created_at DESC, id DESC LIMIT 200",
            new { sessionId }, cancellationToken: ct))).ToList();
        var redeemed = (await c.QueryAsync<(string VoucherId, long Used)>(new CommandDefinition(
            """
            SELECT c.voucher_id, COUNT(*) FROM voucher_claims c JOIN vouchers v ON v.id = c.voucher_id
            WHERE v.session_id = @sessionId AND c.used_order_id IS NOT NULL GROUP BY c.voucher_id
            """, new { sessionId }, cancellationToken: ct))).ToDictionary(r => r.VoucherId, r => (int)r.Used, StringComparer.Ordinal);
        return rows.Select(r => new VoucherReport(r.ToVoucher(now), (int)r.Claimed, redeemed.GetValueOrDefault(r.Id))).ToList();
    }

    /// <summary>Pushes the remaining count of vouchers claimed on this node since the last tick (at most 4 a second).</summary>
    public async Task PushUpdatesAsync(CancellationToken ct)
    {
        if (_dirty.IsEmpty)
        {
            return;
        }

        foreach (var voucherId in _dirty.Keys.ToList())
        {
            _dirty.TryRemove(voucherId, out _);
            if (await GetAsync(voucherId, ct) is { } voucher)
            {
                await broadcaster.PublishAsync(RoomTarget.Session, voucher.SessionId, "voucherUpdated", new VoucherUpdated(voucher.Id, voucher.SessionId, voucher.Remaining));
            }
        }
    }

    /// <summary>Forgets the terms of vouchers whose window has ended (their unclaimed quantity simply ends).</summary>
    public Task ForgetEndedAsync()
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var (id, row) in _vouchers)
        {
            if (row.EndsAt <= now)
            {
                _vouchers.TryRemove(id, out _);
            }
        }

        return Task.CompletedTask;
    }

    /// <summary>A voucher's fixed terms, cached while it runs (the counter is re-checked by SQL on every claim).</summary>
    private async Task<VoucherRow?> FindCachedAsync(string voucherId, CancellationToken ct)
    {
        if (_vouchers.TryGetValue(voucherId, out var cached))
        {
            return cached;
        }

        await using var c = await database.OpenAsync(ct);
        var row = await c.QuerySingleOrDefaultAsync<VoucherRow>(new CommandDefinition(
            $"SELECT {VoucherRow.Columns} FROM vouchers WHERE id = @voucherId", new { voucherId }, cancellationToken: ct));
        if (row is not null && row.EndsAt > time.GetUtcNow().ToUnixTimeMilliseconds())
        {
            _vouchers[voucherId] = row;
        }

        return row;
    }
}
