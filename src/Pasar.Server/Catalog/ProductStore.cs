using System.Data.Common;
using Dapper;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Http;

namespace Pasar.Server.Catalog;

internal sealed record Product(
    string Id,
    string SellerId,
    string Title,
    string? Description,
    long PriceMinor,
    string Currency,
    int Stock,
    string? ImageUrl,
    long Sold,
    DateTimeOffset CreatedAt);

/// <summary>
/// The catalog's SQL. Other modules use it through <see cref="ICatalogStock"/> inside their own transaction
/// (an order takes stock in the same commit as the order row).
/// </summary>
internal sealed class ProductStore : ICatalogStock
{
    internal const string Columns =
        "id AS Id, seller_id AS SellerId, title AS Title, description AS Description, price_minor AS PriceMinor, currency AS Currency, stock AS Stock, image_url AS ImageUrl, sold AS Sold, created_at AS CreatedAt";

    public async Task<Product?> FindAsync(DbConnection c, DbTransaction? tx, string id, CancellationToken ct)
    {
        var row = await c.QuerySingleOrDefaultAsync<ProductRow>(new CommandDefinition(
            $"SELECT {Columns} FROM products WHERE id = @id", new { id }, tx, cancellationToken: ct));
        return row?.ToProduct();
    }

    /// <summary>The product, with its row locked until the transaction ends on PostgreSQL (SQLite's single writer needs no lock).</summary>
    internal static async Task<Product?> FindForUpdateAsync(DbConnection c, DbTransaction tx, string id, DatabaseProvider provider, CancellationToken ct)
    {
        var lockClause = provider == DatabaseProvider.Postgres ? " FOR UPDATE" : "";
        var row = await c.QuerySingleOrDefaultAsync<ProductRow>(new CommandDefinition(
            $"SELECT {Columns} FROM products WHERE id = @id{lockClause}", new { id }, tx, cancellationToken: ct));
        return row?.ToProduct();
    }

    public async Task<bool> TryTakeStockAsync(DbConnection c, DbTransaction tx, string productId, int quantity, long now, CancellationToken ct) =>
        // The condition and the decrement are one statement: the row lock (PostgreSQL) or the single writer
        // (SQLite) makes it atomic, so stock never goes below zero whatever the concurrency.
        await c.ExecuteAsync(new CommandDefinition(
            "UPDATE products SET stock = stock - @quantity, updated_at = @now WHERE id = @productId AND stock >= @quantity",
            new { productId, quantity, now }, tx, cancellationToken: ct)) == 1;

    public async Task ReturnStockAsync(DbConnection c, DbTransaction tx, string productId, int quantity, long now, CancellationToken ct) =>
        await c.ExecuteAsync(new CommandDefinition(
            "UPDATE products SET stock = stock + @quantity, updated_at = @now WHERE id = @productId",
            new { productId, quantity, now }, tx, cancellationToken: ct));

    public async Task RecordSoldAsync(DbConnection c, DbTransaction tx, string productId, int quantity, CancellationToken ct) =>
        await c.ExecuteAsync(new CommandDefinition(
            "UPDATE products SET sold = sold + @quantity WHERE id = @productId", new { quantity, productId }, tx, cancellationToken: ct));

    /// <summary>Lists a new product in the caller's transaction (the demo seed; the API writes its own row with its event).</summary>
    public static async Task InsertAsync(DbConnection c, DbTransaction tx, Product p, CancellationToken ct) =>
        await c.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO products (id, seller_id, title, description, price_minor, currency, stock, image_url, sold, created_at, updated_at)
            VALUES (@Id, @SellerId, @Title, @Description, @PriceMinor, @Currency, @Stock, @ImageUrl, @Sold, @at, @at)
            """,
            new { p.Id, p.SellerId, p.Title, p.Description, p.PriceMinor, p.Currency, p.Stock, p.ImageUrl, p.Sold, at = p.CreatedAt.ToUnixTimeMilliseconds() }, tx, cancellationToken: ct));

    internal static async Task<IReadOnlyList<ProductRow>> ListAsync(DbConnection c, string? sellerId, PageRequest page, CancellationToken ct)
    {
        var where = sellerId is null ? "" : "seller_id = @sellerId AND ";
        var rows = await c.QueryAsync<ProductRow>(new CommandDefinition(
            $"SELECT {Columns} FROM products WHERE {where}{page.Condition("created_at", "id")} ORDER BY created_at DESC, id DESC LIMIT @fetch",
            new { sellerId, beforeTime = page.BeforeTime, beforeId = page.BeforeId, fetch = page.FetchSize }, cancellationToken: ct));
        return rows.AsList();
    }

    internal sealed class ProductRow
    {
        public string Id { get; init; } = "";
        public string SellerId { get; init; } = "";
        public string Title { get; init; } = "";
        public string? Description { get; init; }
        public long PriceMinor { get; init; }
        public string Currency { get; init; } = "";
        public long Stock { get; init; }
        public string? ImageUrl { get; init; }
        public long Sold { get; init; }
        public long CreatedAt { get; init; }

        public Product ToProduct() =>
            new(Id, SellerId, Title, Description, PriceMinor, Currency, checked((int)Stock), ImageUrl, Sold, DateTimeOffset.FromUnixTimeMilliseconds(CreatedAt));
    }
}

/// <summary>What other modules may do with catalog stock, inside their own transaction.</summary>
internal interface ICatalogStock
{
    Task<Product?> FindAsync(DbConnection c, DbTransaction? tx, string id, CancellationToken ct);

    /// <summary>Takes <paramref name="quantity"/> units if that many are in stock; false (and nothing changed) otherwise.</summary>
    Task<bool> TryTakeStockAsync(DbConnection c, DbTransaction tx, string productId, int quantity, long now, CancellationToken ct);

    Task ReturnStockAsync(DbConnection c, DbTransaction tx, string productId, int quantity, long now, CancellationToken ct);

    /// <summary>Adds <paramref name="quantity"/> to the product's sold count, in the caller's transaction.</summary>
    Task RecordSoldAsync(DbConnection c, DbTransaction tx, string productId, int quantity, CancellationToken ct);
}
