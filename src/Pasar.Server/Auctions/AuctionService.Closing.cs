using Dapper;
using Pasar.Server.LiveRoom;
using Pasar.Server.Orders;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Auctions;

// Closing: an auction whose end has passed closes once across nodes and crashes. The close, the winner's order (or
// the unit's return) and the outbox event are one transaction behind a conditional update of the auction's status,
// so a node killed at any instant leaves either an open auction (the next tick, on any node, closes it) or a
// closed one with exactly its one order. Driven by AuctionTicker.
internal sealed partial class AuctionService
{
    /// <summary>Closes auctions whose end has passed: the highest bidder gets an order at the winning price, or the unit returns.</summary>
    public async Task CloseDueAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        IReadOnlyList<string> due;
        HashSet<string> open;
        await using (var c = await database.OpenAsync(ct))
        {
            var rows = (await c.QueryAsync<(string Id, long EndsAt)>(new CommandDefinition(
                "SELECT id, ends_at FROM auctions WHERE status = 'open'", cancellationToken: ct))).AsList();
            due = rows.Where(r => r.EndsAt <= now).Select(r => r.Id).ToList();
            open = rows.Select(r => r.Id).ToHashSet(StringComparer.Ordinal);
        }

        foreach (var id in _terms.Keys)
        {
            if (!open.Contains(id))
            {
                _terms.TryRemove(id, out _); // closed here or on another node
            }
        }

        foreach (var auctionId in due)
        {
            var ended = await database.InTransactionAsync<AuctionEnded?>(async (c, tx) =>
            {
                // The status condition makes the close happen once; the row lock orders it after any bid that
                // committed first, and the end is re-read on the locked row (a last-second bid may have moved it).
                var row = await c.QuerySingleOrDefaultAsync<AuctionRow>(new CommandDefinition(
                    $"""
                    UPDATE auctions SET status = CASE WHEN highest_bidder_id IS NULL THEN 'unsold' ELSE 'sold' END, closed_at = @now
                    WHERE id = @auctionId AND status = 'open' AND ends_at <= @now
                    RETURNING {AuctionRow.Columns}
                    """, new { auctionId, now }, tx, cancellationToken: ct));
                if (row is null)
                {
                    return null;
                }

                string? orderId = null;
                if (row.HighestBidderId is { } winner)
                {
                    var placed = await placement.PlaceAsync(c, tx,
                        new OrderDraft(winner, row.ProductId, 1, 0, null, UnitPriceMinor: row.HighestBidMinor, StockAlreadyReserved: true), ct);
                    orderId = placed.Order?.Id ?? throw new InvalidOperationException($"Auction {auctionId}: the winner's order was refused ({placed.Refusal}).");
                    await c.ExecuteAsync(new CommandDefinition("UPDATE auctions SET order_id = @orderId WHERE id = @auctionId",
                        new { orderId, auctionId }, tx, cancellationToken: ct));
                }
                else
                {
                    await catalog.ReturnStockAsync(c, tx, row.ProductId, 1, now, ct);
                }

                await outbox.EnqueueAsync(c, tx, new AuctionClosed(row.Id, row.SessionId, row.ProductId, row.Status, row.HighestBidMinor, row.HighestBidderId, orderId,
                    time.GetUtcNow()), ct);
                return new AuctionEnded(row.Id, row.SessionId, row.Status, row.HighestBidMinor, row.HighestBidderId, row.HighestBidderName);
            }, ct);
            if (ended is null)
            {
                continue;
            }

            _terms.TryRemove(auctionId, out _);
            _dirty.TryRemove(auctionId, out _);
            logger.LogInformation("Auction {Auction} closed {Status} at {Amount}", auctionId, ended.Status, ended.HighestBidMinor);
            try
            {
                await gate.CloseAsync(auctionId);
            }
            catch (Exception ex) when (StoreFaults.IsUnavailable(ex))
            {
                // SQL refuses bids on a closed auction; the gate learns it on its next rebuild.
            }

            await broadcaster.PublishAsync(RoomTarget.Session, ended.SessionId, "auctionEnded", ended);
        }
    }

    /// <summary>Pushes the highest bid and end of auctions bid on here since the last tick (at most 4 times a second).</summary>
    public async Task PushUpdatesAsync(CancellationToken ct)
    {
        if (_dirty.IsEmpty)
        {
            return;
        }

        foreach (var auctionId in _dirty.Keys.ToList())
        {
            _dirty.TryRemove(auctionId, out _);
            await using var c = await database.OpenAsync(ct);
            var row = await c.QuerySingleOrDefaultAsync<AuctionRow>(new CommandDefinition(
                $"SELECT {AuctionRow.Columns} FROM auctions WHERE id = @auctionId", new { auctionId }, cancellationToken: ct));
            if (row is { Status: AuctionStatus.Open })
            {
                await broadcaster.PublishAsync(RoomTarget.Session, row.SessionId, "auctionUpdated", row.ToUpdated());
            }
        }
    }
}
