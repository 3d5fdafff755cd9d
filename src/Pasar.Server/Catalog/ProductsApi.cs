using System.Security.Claims;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Auth;
using Pasar.Server.Platform.Events;
using Pasar.Server.Platform.Http;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Catalog;

internal sealed record CreateProductRequest(string? Title, string? Description, long? PriceMinor, string? Currency, int? Stock, string? ImageUrl);

internal sealed record UpdateProductRequest(string? Title, string? Description, long? PriceMinor, int? Stock, string? ImageUrl);

internal static class ProductsApi
{
    public const long MaxPriceMinor = 100_000_000_000; // a billion in major units: far above any product, far below overflow
    public const int MaxStock = 10_000_000;

    public static void MapProducts(this IEndpointRouteBuilder app)
    {
        var products = app.MapGroup("/api/products").WithTags("Catalog");
        products.MapPost("/", Create).RequireAuthorization(Policies.Seller).WithSummary("List a new product (seller)");
        products.MapGet("/", List).AllowAnonymous().WithSummary("Products, newest first");
        products.MapGet("/{id}", Get).AllowAnonymous().WithSummary("A product");
        products.MapPatch("/{id}", Update).RequireAuthorization(Policies.Seller).WithSummary("Change a product (its seller)");
        app.MapGet("/api/sellers/{sellerId}/products", ListBySeller).WithTags("Catalog").AllowAnonymous().WithSummary("A seller's products, newest first");
    }

    internal static async Task<Results<Created<Product>, ValidationProblem>> Create(
        CreateProductRequest body, ClaimsPrincipal user, Database db, Outbox outbox, TimeProvider time, CancellationToken ct)
    {
        var v = new RequestValidator()
            .Text("title", body.Title, 1, 200)
            .Text("description", body.Description, 0, 5000, required: false)
            .Range("priceMinor", body.PriceMinor, 0, MaxPriceMinor)
            .Currency("currency", body.Currency)
            .Range("stock", body.Stock, 0, MaxStock)
            .HttpUrl("imageUrl", body.ImageUrl);
        if (!v.IsValid)
        {
            return ApiProblem.Validation(v.Errors);
        }

        var now = time.GetUtcNow();
        var product = new Product(Ids.New(), user.UserId(), body.Title!.Trim(), body.Description?.Trim(), body.PriceMinor!.Value, body.Currency!,
            body.Stock!.Value, body.ImageUrl, 0, DateTimeOffset.FromUnixTimeMilliseconds(now.ToUnixTimeMilliseconds()));
        await db.InTransactionAsync(async (c, tx) =>
        {
            await c.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO products (id, seller_id, title, description, price_minor, currency, stock, image_url, sold, created_at, updated_at)
                VALUES (@Id, @SellerId, @Title, @Description, @PriceMinor, @Currency, @Stock, @ImageUrl, 0, @at, @at)
                """,
                new { product.Id, product.SellerId, product.Title, product.Description, product.PriceMinor, product.Currency, product.Stock, product.ImageUrl, at = now.ToUnixTimeMilliseconds() },
                tx, cancellationToken: ct));
            await outbox.EnqueueAsync(c, tx, new ProductCreated(product.Id, product.SellerId, product.Title, product.PriceMinor, product.Currency, now), ct);
        }, ct);
        return TypedResults.Created($"/api/products/{product.Id}", product);
    }

    internal static async Task<Results<Ok<Product>, ProblemHttpResult>> Get(string id, Database db, ProductStore store, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var product = await store.FindAsync(c, null, id, ct);
        return product is null ? ApiProblem.NotFound("PRODUCT_NOT_FOUND", "Product") : TypedResults.Ok(product);
    }

    internal static async Task<Results<Ok<Product>, ProblemHttpResult, ValidationProblem>> Update(
        string id, UpdateProductRequest body, ClaimsPrincipal user, Database db, Outbox outbox, TimeProvider time, CancellationToken ct)
    {
        var v = new RequestValidator()
            .Text("title", body.Title, 1, 200, required: false)
            .Text("description", body.Description, 0, 5000, required: false)
            .Range("priceMinor", body.PriceMinor, 0, MaxPriceMinor, required: false)
            .Range("stock", body.Stock, 0, MaxStock, required: false)
            .HttpUrl("imageUrl", body.ImageUrl);
        if (!v.IsValid)
        {
            return ApiProblem.Validation(v.Errors);
        }

        var now = time.GetUtcNow();
        var result = await db.InTransactionAsync<Results<Ok<Product>, ProblemHttpResult, ValidationProblem>>(async (c, tx) =>
        {
            // PostgreSQL: the row is locked from this read to the commit, so the ownership check and the price
            // compared for PRICE_DROP are the ones the update applies to. SQLite has one writer at a time already.
            var current = await ProductStore.FindForUpdateAsync(c, tx, id, db.Provider, ct);
            if (current is null)
            {
                return ApiProblem.NotFound("PRODUCT_NOT_FOUND", "Product");
            }

            if (current.SellerId != user.UserId())
            {
                return ApiProblem.Forbidden("Only the product's seller can change it.");
            }

            // Only the fields that were sent are written. Stock is never written back from the read above: a
            // title edit must not undo the orders committed since (stock = COALESCE(NULL, stock) keeps the row's
            // own value). A sent stock is the seller's absolute count, applied under the lock.
            var updated = (await c.QuerySingleAsync<ProductStore.ProductRow>(new CommandDefinition(
                $"""
                UPDATE products SET
                    title = COALESCE(@title, title),
                    description = COALESCE(@description, description),
                    price_minor = COALESCE(@priceMinor, price_minor),
                    stock = COALESCE(@stock, stock),
                    image_url = COALESCE(@imageUrl, image_url),
                    updated_at = @now
                WHERE id = @id
                RETURNING {ProductStore.Columns}
                """,
                new { title = body.Title?.Trim(), description = body.Description?.Trim(), priceMinor = body.PriceMinor, stock = body.Stock, imageUrl = body.ImageUrl, now = now.ToUnixTimeMilliseconds(), id },
                tx, cancellationToken: ct))).ToProduct();
            if (updated.PriceMinor < current.PriceMinor)
            {
                await outbox.EnqueueAsync(c, tx, new ProductPriceDropped(updated.Id, updated.SellerId, current.PriceMinor, updated.PriceMinor, updated.Currency, now), ct);
            }

            return TypedResults.Ok(updated);
        }, ct);
        return result;
    }

    internal static async Task<Results<Ok<Page<Product>>, ValidationProblem>> List(
        [FromQuery] int? limit, [FromQuery] string? cursor, Database db, CancellationToken ct) => await ListCore(null, limit, cursor, db, ct);

    internal static async Task<Results<Ok<Page<Product>>, ValidationProblem>> ListBySeller(
        string sellerId, [FromQuery] int? limit, [FromQuery] string? cursor, Database db, CancellationToken ct) => await ListCore(sellerId, limit, cursor, db, ct);

    private static async Task<Results<Ok<Page<Product>>, ValidationProblem>> ListCore(string? sellerId, int? limit, string? cursor, Database db, CancellationToken ct)
    {
        var v = new RequestValidator();
        var page = PageRequest.From(limit, cursor, v);
        if (!v.IsValid)
        {
            return ApiProblem.Validation(v.Errors);
        }

        await using var c = await db.OpenAsync(ct);
        var rows = await ProductStore.ListAsync(c, sellerId, page, ct);
        return TypedResults.Ok(page.ToPage(rows, r => r.CreatedAt, r => r.Id, r => r.ToProduct()));
    }
}
