using Dapper;
using Pasar.Server.LiveRoom;
using Pasar.Server.Platform.Events;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.FlashSales;

// Closing: sales whose time is up or that sold out end once across nodes, unsold units go back to the
// product, and the room hears the remaining counts and the end. Driven by FlashSaleTicker.
internal sealed partial class FlashSaleService
{
    /// <summary>Ends sales whose time is up or that sold out: unsold units return to the product, the room is told.</summary>
    public async Task CloseDueAsync(CancellationToken ct)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        foreach (var (id, cached) in _sales)
        {
            // Ended here or on another node: a minute after its end no purchase can need its terms.
            if (cached.EndsAt + 60_000 <= now)
            {
                _sales.TryRemove(id, out _);
                _endedPurchases.TryRemove(id, out _);
            }
        }

        foreach (var id in _endedPurchases.Keys)
        {
            if (!_sales.ContainsKey(id))
            {
                _endedPurchases.TryRemove(id, out _); // its terms went while its purchases were being read
            }
        }

        IReadOnlyList<FlashSaleRow> due;
        await using (var c = await database.OpenAsync(ct))
        {
            due = (await c.QueryAsync<FlashSaleRow>(new CommandDefinition(
                $"SELECT {FlashSaleRow.Columns} FROM flash_sales WHERE status = 'active' AND (ends_at <= @now OR sold >= quantity)",
                new { now }, cancellationToken: ct))).AsList();
        }

        foreach (var sale in due)
        {
            var closed = await database.InTransactionAsync<FlashSaleEnded?>(async (c, tx) =>
            {
                var state = await c.QuerySingleAsync<(long Quantity, long Sold)>(new CommandDefinition(
                    "SELECT quantity, sold FROM flash_sales WHERE id = @Id", new { sale.Id }, tx, cancellationToken: ct));
                var returned = (int)(state.Quantity - state.Sold);
                // The status condition makes closing idempotent across nodes; the row lock orders it after any purchase.
                var changed = await c.ExecuteAsync(new CommandDefinition(
                    "UPDATE flash_sales SET status = 'ended', ended_at = @now, returned = @returned WHERE id = @Id AND status = 'active' AND sold = @Sold",
                    new { now, returned, sale.Id, state.Sold }, tx, cancellationToken: ct));
                if (changed == 0)
                {
                    return null;
                }

                if (returned > 0)
                {
                    await catalog.ReturnStockAsync(c, tx, sale.ProductId, returned, now, ct);
                }

                var reason = state.Sold >= state.Quantity ? "sold_out" : "time_up";
                await outbox.EnqueueAsync(c, tx, new FlashSaleClosed(sale.Id, sale.SessionId, sale.ProductId, reason, (int)state.Sold, returned, time.GetUtcNow()), ct);
                return new FlashSaleEnded(sale.Id, sale.SessionId, reason, (int)state.Sold, returned);
            }, ct);
            if (closed is not null)
            {
                _sales.TryRemove(sale.Id, out _); // reloaded as ended on the next look
                _dirty.TryRemove(sale.Id, out _);
                logger.LogInformation("Flash sale {Sale} ended ({Reason}): {Sold} sold, {Returned} back to stock", sale.Id, closed.Reason, closed.Sold, closed.Returned);
                await broadcaster.PublishAsync(RoomTarget.Session, sale.SessionId, "flashSaleUpdated", new FlashSaleUpdated(sale.Id, sale.SessionId, closed.Returned));
                await broadcaster.PublishAsync(RoomTarget.Session, sale.SessionId, "flashSaleEnded", closed);
            }
        }
    }

    /// <summary>Pushes the remaining count of sales that sold since the last tick (at most 4 times a second).</summary>
    public async Task PushUpdatesAsync(CancellationToken ct)
    {
        foreach (var saleId in _dirty.Keys.ToList())
        {
            _dirty.TryRemove(saleId, out _);
            if (!_sales.TryGetValue(saleId, out var sale))
            {
                continue;
            }

            var remaining = sqlOnly ? (await GetAsync(saleId, ct))?.Remaining : await gate.RemainingAsync(saleId);
            if (remaining is null)
            {
                continue;
            }

            await broadcaster.PublishAsync(RoomTarget.Session, sale.SessionId, "flashSaleUpdated", new FlashSaleUpdated(saleId, sale.SessionId, remaining.Value));
            if (remaining == 0)
            {
                await CloseDueAsync(ct);
            }
        }
    }
}
