using Dapper;
using Pasar.Server.Platform.Http;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Orders;

/// <summary>Reads of the <c>orders</c> table (writes go through <see cref="OrderPlacement"/> in the caller's transaction).</summary>
internal sealed class OrderStore(Database db)
{
    public async Task<OrderPlacement.OrderRow?> FindAsync(string id, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        return await c.QuerySingleOrDefaultAsync<OrderPlacement.OrderRow>(new CommandDefinition(
            $"SELECT {OrderPlacement.Columns} FROM orders WHERE id = @id", new { id }, cancellationToken: ct));
    }

    /// <summary>A buyer's orders, newest first, one page.</summary>
    public Task<Page<Order>> PageForBuyerAsync(string buyerId, PageRequest page, CancellationToken ct) =>
        db.QueryPageAsync<OrderPlacement.OrderRow, Order>(page,
            $"SELECT {OrderPlacement.Columns} FROM orders WHERE buyer_id = @buyerId AND {page.Condition("created_at", "id")} ORDER BY created_at DESC, id DESC LIMIT @fetch",
            new { buyerId }, r => r.CreatedAt, r => r.Id, r => r.ToOrder(), ct);
}
