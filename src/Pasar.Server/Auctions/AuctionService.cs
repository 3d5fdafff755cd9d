using System.Collections.Concurrent;
using System.Data.Common;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Pasar.Server.Catalog;
using Pasar.Server.Live;
using Pasar.Server.LiveRoom;
using Pasar.Server.Orders;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Events;
using Pasar.Server.Platform.Http;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Auctions;

/// <summary>
/// Live auctions (SPEC §15, ADR 0021). Starting one takes one unit from stock. A bid passes the Redis/Garnet gate,
/// which orders concurrent bids and refuses most of a wave at once, then commits under SQL's own guards (one
/// conditional update of the auction row, the unique (auction, amount)) with its Idempotency-Key. At the end the
/// closer turns the highest bid into one order, or returns the unit (<c>AuctionService.Closing.cs</c>).
/// </summary>
internal sealed partial class AuctionService(
    Database database,
    AuctionGate gate,
    ICatalogStock catalog,
    OrderPlacement placement,
    IdempotencyStore idempotency,
    Outbox outbox,
    RoomBroadcaster broadcaster,
    TimeProvider time,
    Microsoft.Extensions.Options.IOptions<AuctionOptions> options,
    ILogger<AuctionService> logger)
{
    private readonly bool _sqlOnly = options.Value.Gate == GateKind.SqlOnly;
    private readonly ConcurrentDictionary<string, AuctionRow> _terms = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _dirty = new(StringComparer.Ordinal);

    public async Task<Results<Created<Auction>, ProblemHttpResult, ValidationProblem>> StartAsync(
        LiveSessionRow session, StartAuctionRequest body, string? idempotencyKey, CancellationToken ct)
    {
        var v = new RequestValidator()
            .Text("productId", body.ProductId, 1, 64)
            .Range("startPriceMinor", body.StartPriceMinor, 1, ProductsApi.MaxPriceMinor)
            .Range("incrementMinor", body.IncrementMinor, 1, ProductsApi.MaxPriceMinor)
            .Range("durationSeconds", body.DurationSeconds ?? 60, 10, 3600)
            .Range("antiSnipeSeconds", body.AntiSnipeSeconds ?? 10, 0, 120);
        if (idempotencyKey is not null && !IdempotencyStore.IsValidKey(idempotencyKey))
        {
            v.Add(IdempotencyStore.Header, "Idempotency-Key must be 1 to 255 visible ASCII characters.");
        }

        if (!v.IsValid)
        {
            return ApiProblem.Validation(v.Errors);
        }

        if (session.Status != LiveStatus.Live)
        {
            return ApiProblem.Create(StatusCodes.Status409Conflict, "SESSION_NOT_LIVE", "The session is not live", "Auctions run while you are on air.");
        }

        await CloseDueAsync(ct); // an auction whose time is up no longer blocks a new one
        var now = time.GetUtcNow();
        var requestHash = IdempotencyStore.HashRequest("auction-start:" + session.Id, body);
        var outcome = await idempotency.ExecuteAsync(session.SellerId, idempotencyKey, "auction-start:" + session.Id, requestHash, async (c, tx) =>
        {
            var product = await catalog.FindAsync(c, tx, body.ProductId!, ct);
            if (product is null)
            {
                return CommandOutcome<Auction>.Refused(ApiProblem.NotFound("PRODUCT_NOT_FOUND", "Product"));
            }

            if (product.SellerId != session.SellerId)
            {
                return CommandOutcome<Auction>.Refused(ApiProblem.Create(StatusCodes.Status403Forbidden, "NOT_YOUR_PRODUCT", "Not your product", "An auction sells your own product."));
            }

            var row = new AuctionRow
            {
                Id = Ids.New(),
                SessionId = session.Id,
                SellerId = session.SellerId,
                ProductId = product.Id,
                Currency = product.Currency,
                StartPriceMinor = body.StartPriceMinor!.Value,
                IncrementMinor = body.IncrementMinor!.Value,
                AntiSnipeSeconds = body.AntiSnipeSeconds ?? 10,
                StartsAt = now.ToUnixTimeMilliseconds(),
                EndsAt = now.AddSeconds(body.DurationSeconds ?? 60).ToUnixTimeMilliseconds(),
                Status = AuctionStatus.Open,
            };
            // The partial unique index decides between racing starts; the auction row goes in before the unit is
            // taken, so a refused start never touches the product.
            var inserted = await c.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO auctions (id, session_id, seller_id, product_id, currency, start_price_minor, increment_minor, anti_snipe_seconds, starts_at, ends_at, bids, status, created_at)
                VALUES (@Id, @SessionId, @SellerId, @ProductId, @Currency, @StartPriceMinor, @IncrementMinor, @AntiSnipeSeconds, @StartsAt, @EndsAt, 0, 'open', @StartsAt)
                ON CONFLICT (session_id) WHERE status = 'open' DO NOTHING
                """, row, tx, cancellationToken: ct));
            if (inserted == 0)
            {
                return CommandOutcome<Auction>.Refused(ApiProblem.Create(StatusCodes.Status409Conflict, "AUCTION_ACTIVE", "An auction is already running",
                    "One auction at a time per live session; wait for the current one to end."));
            }

            if (!await catalog.TryTakeStockAsync(c, tx, product.Id, 1, row.StartsAt, ct))
            {
                return CommandOutcome<Auction>.Refused(ApiProblem.Create(StatusCodes.Status409Conflict, "OUT_OF_STOCK", "Not enough stock", "The product has no unit left to auction."));
            }

            await outbox.EnqueueAsync(c, tx, new AuctionStarted(row.Id, row.SessionId, row.SellerId, row.ProductId, now), ct);
            return new CommandOutcome<Auction>(row.ToAuction(), null);
        }, ct);
        if (outcome.Value is null)
        {
            return outcome.Problem!;
        }

        if (!outcome.Replayed)
        {
            await gate.RebuildAsync(outcome.Value.Id, ct);
            logger.LogInformation("Auction {Auction} started in session {Session}", outcome.Value.Id, session.Id);
            await broadcaster.PublishAsync(RoomTarget.Session, session.Id, "auctionStarted", outcome.Value);
        }

        return TypedResults.Created($"/api/auctions/{outcome.Value.Id}", outcome.Value);
    }

    public async Task<Results<Created<AuctionBid>, ProblemHttpResult, ValidationProblem>> BidAsync(
        string auctionId, string bidderId, string bidderName, PlaceBidRequest body, string? idempotencyKey, CancellationToken ct)
    {
        var v = new RequestValidator().Range("amountMinor", body.AmountMinor, 1, ProductsApi.MaxPriceMinor);
        if (idempotencyKey is not null && !IdempotencyStore.IsValidKey(idempotencyKey))
        {
            v.Add(IdempotencyStore.Header, "Idempotency-Key must be 1 to 255 visible ASCII characters.");
        }

        if (!v.IsValid)
        {
            return ApiProblem.Validation(v.Errors);
        }

        var auction = await FindTermsAsync(auctionId, ct);
        if (auction is null)
        {
            return ApiProblem.NotFound("AUCTION_NOT_FOUND", "Auction");
        }

        if (auction.SellerId == bidderId)
        {
            return ApiProblem.Create(StatusCodes.Status403Forbidden, "OWN_AUCTION", "Your own auction", "The seller cannot bid in their own auction.");
        }

        var amount = body.AmountMinor!.Value;
        var scope = "auction-bid:" + auctionId;
        var requestHash = IdempotencyStore.HashRequest(scope, body);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var bidId = Ids.New();
        var reply = auction.Status != AuctionStatus.Open
            ? new AuctionGate.Reply(AuctionGate.Result.Ended, 0, auction.EndsAt)
            : _sqlOnly ? new AuctionGate.Reply(AuctionGate.Result.Accepted, 0, 0)
            : await gate.TryBidAsync(auctionId, bidderId, amount, now, bidId, idempotencyKey, ct);
        if (reply.Result != AuctionGate.Result.Accepted)
        {
            // A retry of a bid that went through is refused by the gate (its bidder is highest, or was outbid since).
            // Only a refused bid whose key passed the gate before can be one (GateRetryKeys); a closed auction is
            // off the hot path and always looks.
            if ((reply.MayBeRetry || auction.Status != AuctionStatus.Open) && await ReplayAsync(bidderId, idempotencyKey, requestHash, ct) is { } replay)
            {
                return replay;
            }

            return reply.Result switch
            {
                AuctionGate.Result.Ended => Refused("AUCTION_ENDED"),
                AuctionGate.Result.AlreadyHighest => Refused("ALREADY_HIGHEST"),
                _ => TooLow(reply.HighestMinor > 0 ? reply.HighestMinor + auction.IncrementMinor : auction.StartPriceMinor),
            };
        }

        CommandOutcome<AuctionBid> outcome;
        try
        {
            outcome = await idempotency.ExecuteAsync(bidderId, idempotencyKey, scope, requestHash,
                (c, tx) => CommitBidAsync(c, tx, auction, bidId, bidderId, bidderName, amount, ct), ct);
        }
        catch when (!_sqlOnly)
        {
            await gate.ForgetAsync(auctionId, bidId);
            throw;
        }

        if (!_sqlOnly && (outcome.Value is null || outcome.Replayed))
        {
            await gate.ForgetAsync(auctionId, bidId); // SQL did not keep this bid: the gate must not remember it as the highest
        }

        if (outcome.Value is null)
        {
            return outcome.Problem!;
        }

        _dirty[auctionId] = 0;
        return TypedResults.Created($"/api/auctions/{auctionId}", outcome.Value);
    }

    private async Task<CommandOutcome<AuctionBid>> CommitBidAsync(
        DbConnection c, DbTransaction tx, AuctionRow auction, string bidId, string bidderId, string bidderName, long amount, CancellationToken ct)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        // The row lock orders concurrent bids; the conditions are re-read on the locked row, so only a bid that is
        // still high enough after every earlier commit is kept. A bid in the last anti-snipe window moves the end.
        var endsAt = await c.QuerySingleOrDefaultAsync<long?>(new CommandDefinition(
            """
            UPDATE auctions SET highest_bid_minor = @amount, highest_bidder_id = @bidderId, highest_bidder_name = @bidderName, bids = bids + 1,
                ends_at = CASE WHEN ends_at - @now <= anti_snipe_seconds * 1000 THEN @now + anti_snipe_seconds * 1000 ELSE ends_at END
            WHERE id = @Id AND status = 'open' AND ends_at > @now
              AND ((highest_bid_minor IS NULL AND @amount >= start_price_minor)
                OR (highest_bid_minor IS NOT NULL AND @amount >= highest_bid_minor + increment_minor AND highest_bidder_id <> @bidderId))
            RETURNING ends_at
            """, new { amount, bidderId, bidderName, now, auction.Id }, tx, cancellationToken: ct));
        if (endsAt is null)
        {
            var state = await c.QuerySingleAsync<AuctionRow>(new CommandDefinition(
                $"SELECT {AuctionRow.Columns} FROM auctions WHERE id = @Id", new { auction.Id }, tx, cancellationToken: ct));
            if (state.Status != AuctionStatus.Open || state.EndsAt <= now)
            {
                return CommandOutcome<AuctionBid>.Refused(Refused("AUCTION_ENDED"));
            }

            return CommandOutcome<AuctionBid>.Refused(state.HighestBidderId == bidderId
                ? Refused("ALREADY_HIGHEST")
                : TooLow(state.HighestBidMinor is { } high ? high + state.IncrementMinor : state.StartPriceMinor));
        }

        // Read again now that the row lock is held: bids are stamped in the order SQL accepted them (a bid that waited
        // for the lock was accepted after the one holding it, at a higher amount), so (placed_at, amount) is that order.
        var acceptedAt = Math.Max(now, time.GetUtcNow().ToUnixTimeMilliseconds());
        var inserted = await c.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO auction_bids (id, auction_id, bidder_id, bidder_name, amount_minor, placed_at)
            VALUES (@bidId, @Id, @bidderId, @bidderName, @amount, @acceptedAt) ON CONFLICT DO NOTHING
            """, new { bidId, auction.Id, bidderId, bidderName, amount, acceptedAt }, tx, cancellationToken: ct));
        if (inserted == 0)
        {
            return CommandOutcome<AuctionBid>.Refused(TooLow(amount + auction.IncrementMinor));
        }

        return new CommandOutcome<AuctionBid>(new AuctionBid(bidId, auction.Id, bidderId, bidderName, amount,
            DateTimeOffset.FromUnixTimeMilliseconds(acceptedAt), DateTimeOffset.FromUnixTimeMilliseconds(endsAt.Value)), null);
    }

    private async Task<Results<Created<AuctionBid>, ProblemHttpResult, ValidationProblem>?> ReplayAsync(string userId, string? key, string requestHash, CancellationToken ct)
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

        if (stored.RequestHash != requestHash)
        {
            return IdempotencyStore.Mismatch();
        }

        var bid = System.Text.Json.JsonSerializer.Deserialize<AuctionBid>(stored.ResponseBody, System.Text.Json.JsonSerializerOptions.Web)!;
        return TypedResults.Created($"/api/auctions/{bid.AuctionId}", bid);
    }

    internal static ProblemHttpResult Refused(string code) => code switch
    {
        "ALREADY_HIGHEST" => ApiProblem.Create(StatusCodes.Status409Conflict, code, "You are the highest bidder", "You cannot bid against yourself."),
        _ => ApiProblem.Create(StatusCodes.Status409Conflict, "AUCTION_ENDED", "The auction has ended", "This auction no longer takes bids."),
    };

    private static ProblemHttpResult TooLow(long minimumMinor) =>
        ApiProblem.Create(StatusCodes.Status409Conflict, "BID_TOO_LOW", "The bid is too low", $"The lowest bid accepted now is {minimumMinor}.",
            new Dictionary<string, object?> { ["minimumBidMinor"] = minimumMinor });

    public async Task<Auction?> GetAsync(string auctionId, CancellationToken ct)
    {
        if (auctionId.Length > 64)
        {
            return null;
        }

        await using var c = await database.OpenAsync(ct);
        var row = await c.QuerySingleOrDefaultAsync<AuctionRow>(new CommandDefinition(
            $"SELECT {AuctionRow.Columns} FROM auctions WHERE id = @auctionId", new { auctionId }, cancellationToken: ct));
        return row?.ToAuction();
    }

    /// <summary>The session's open auction, for late joiners (one at most, by the unique index).</summary>
    public async Task<Auction?> ActiveForSessionAsync(string sessionId, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        var row = await c.QuerySingleOrDefaultAsync<AuctionRow>(new CommandDefinition(
            $"SELECT {AuctionRow.Columns} FROM auctions WHERE session_id = @sessionId AND status = 'open'", new { sessionId }, cancellationToken: ct));
        return row?.ToAuction();
    }

    /// <summary>The auction's fixed terms, cached while it is open (the highest bid and the end are SQL's and the gate's).</summary>
    private async Task<AuctionRow?> FindTermsAsync(string auctionId, CancellationToken ct)
    {
        if (_terms.TryGetValue(auctionId, out var cached))
        {
            return cached;
        }

        if (auctionId.Length > 64)
        {
            return null;
        }

        await using var c = await database.OpenAsync(ct);
        var row = await c.QuerySingleOrDefaultAsync<AuctionRow>(new CommandDefinition(
            $"SELECT {AuctionRow.Columns} FROM auctions WHERE id = @auctionId", new { auctionId }, cancellationToken: ct));
        if (row is { Status: AuctionStatus.Open })
        {
            _terms[auctionId] = row;
        }

        return row;
    }
}
