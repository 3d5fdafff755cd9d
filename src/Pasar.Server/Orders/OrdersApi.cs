using System.Security.Claims;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Auth;
using Pasar.Server.Platform.Http;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Orders;

internal static class OrdersApi
{
    public static void MapOrdersApi(this IEndpointRouteBuilder app)
    {
        app.MapPost("/api/orders", Place).WithTags("Orders").RequireAuthorization(Policies.Buyer)
            .WithSummary("Place an order (buyer); send an Idempotency-Key to make retries safe");
        app.MapGet("/api/orders/{id}", Get).WithTags("Orders").RequireAuthorization(Policies.User)
            .WithSummary("An order (its buyer or the product's seller)");
        app.MapGet("/api/me/orders", Mine).WithTags("Orders").RequireAuthorization(Policies.User)
            .WithSummary("My orders, newest first");
    }

    internal static async Task<Results<Created<Order>, ProblemHttpResult, ValidationProblem>> Place(
        PlaceOrderRequest body,
        [FromHeader(Name = IdempotencyStore.Header)] string? idempotencyKey,
        ClaimsPrincipal user,
        IdempotencyStore idempotency,
        OrderPlacement placement,
        PasarMetrics metrics,
        IOptions<OrderRules> rules,
        CancellationToken ct)
    {
        var v = new RequestValidator()
            .Text("productId", body.ProductId, 1, 64)
            .Range("quantity", body.Quantity, 1, rules.Value.MaxQuantity)
            .Range("coinsToRedeem", body.CoinsToRedeem, 0, long.MaxValue / 4, required: false)
            .Text("ref", body.Ref, 1, 64, required: false);
        if (idempotencyKey is not null && !IdempotencyStore.IsValidKey(idempotencyKey))
        {
            v.Add(IdempotencyStore.Header, "Idempotency-Key must be 1 to 255 visible ASCII characters.");
        }

        if (!v.IsValid)
        {
            return ApiProblem.Validation(v.Errors);
        }

        var buyerId = user.UserId();
        var draft = new OrderDraft(buyerId, body.ProductId!, body.Quantity!.Value, body.CoinsToRedeem ?? 0, body.Ref);
        var outcome = await idempotency.ExecuteAsync(buyerId, idempotencyKey, "orders", IdempotencyStore.HashRequest("orders", body), async (c, tx) =>
        {
            var placed = await placement.PlaceAsync(c, tx, draft, ct);
            return placed.Order is not null ? new CommandOutcome<Order>(placed.Order, null) : CommandOutcome<Order>.Refused(Problem(placed.Refusal!.Value));
        }, ct);

        if (outcome.Value is null)
        {
            metrics.OrdersRejected.Add(1, new KeyValuePair<string, object?>("code", outcome.Problem!.ProblemDetails.Extensions["code"]));
            return outcome.Problem!;
        }

        if (!outcome.Replayed)
        {
            metrics.OrdersPlaced.Add(1);
        }

        return TypedResults.Created($"/api/orders/{outcome.Value.Id}", outcome.Value);
    }

    internal static ProblemHttpResult Problem(OrderRefusal refusal) => refusal switch
    {
        OrderRefusal.ProductNotFound => ApiProblem.NotFound("PRODUCT_NOT_FOUND", "Product"),
        OrderRefusal.OutOfStock => ApiProblem.Create(StatusCodes.Status409Conflict, "OUT_OF_STOCK", "Not enough stock", "There is not enough stock left for this quantity."),
        OrderRefusal.CoinsCapExceeded => ApiProblem.Create(StatusCodes.Status422UnprocessableEntity, "COINS_CAP_EXCEEDED", "Too many coins for this order",
            "Coins may pay only part of an order; lower coinsToRedeem."),
        OrderRefusal.InsufficientCoins => ApiProblem.Create(StatusCodes.Status422UnprocessableEntity, "INSUFFICIENT_COINS", "Not enough coins",
            "coinsToRedeem is more than your coin balance."),
        _ => throw new ArgumentOutOfRangeException(nameof(refusal)),
    };

    internal static async Task<Results<Ok<Order>, ProblemHttpResult>> Get(string id, ClaimsPrincipal user, Database db, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var row = await c.QuerySingleOrDefaultAsync<OrderPlacement.OrderRow>(new CommandDefinition(
            $"SELECT {OrderPlacement.Columns} FROM orders WHERE id = @id", new { id }, cancellationToken: ct));
        if (row is null)
        {
            return ApiProblem.NotFound("ORDER_NOT_FOUND", "Order");
        }

        var me = user.UserId();
        if (row.BuyerId != me && row.SellerId != me && !user.IsAdmin())
        {
            return ApiProblem.Forbidden("Only the order's buyer and the product's seller can see this order.");
        }

        return TypedResults.Ok(row.ToOrder());
    }

    internal static async Task<Results<Ok<Page<Order>>, ValidationProblem>> Mine(
        [FromQuery] int? limit, [FromQuery] string? cursor, ClaimsPrincipal user, Database db, CancellationToken ct)
    {
        if (PagedQuery.Bind(limit, cursor, out var invalid) is not { } page)
        {
            return invalid!;
        }

        return TypedResults.Ok(await db.QueryPageAsync<OrderPlacement.OrderRow, Order>(page,
            $"SELECT {OrderPlacement.Columns} FROM orders WHERE buyer_id = @buyer AND {page.Condition("created_at", "id")} ORDER BY created_at DESC, id DESC LIMIT @fetch",
            new { buyer = user.UserId() }, r => r.CreatedAt, r => r.Id, r => r.ToOrder(), ct));
    }
}
