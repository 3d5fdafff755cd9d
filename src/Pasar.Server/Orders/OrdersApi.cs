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
        var orders = app.MapGroup("/api/orders").WithTags("Orders");
        orders.MapPost("/", Place).RequireAuthorization(Policies.Buyer)
            .WithSummary("Place an order (buyer); send an Idempotency-Key to make retries safe");
        orders.MapGet("/{id}", Get).RequireAuthorization(Policies.User).RequireId("id", "ORDER_NOT_FOUND", "Order")
            .WithSummary("An order (its buyer or the product's seller)");
        app.MapGroup("/api/me/orders").WithTags("Orders").RequireAuthorization(Policies.User)
            .MapGet("/", Mine).WithSummary("My orders, newest first");
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
            .Text("ref", body.Ref, 1, 64, required: false)
            .Text("claimId", body.ClaimId, 1, 64, required: false)
            .Text("sessionId", body.SessionId, 1, 64, required: false);
        if (idempotencyKey is not null && !IdempotencyStore.IsValidKey(idempotencyKey))
        {
            v.Add(IdempotencyStore.Header, "Idempotency-Key must be 1 to 255 visible ASCII characters.");
        }

        if (!v.IsValid)
        {
            return ApiProblem.Validation(v.Errors);
        }

        var buyerId = user.UserId();
        var draft = new OrderDraft(buyerId, body.ProductId!, body.Quantity!.Value, body.CoinsToRedeem ?? 0, body.Ref, ClaimId: body.ClaimId, SessionId: body.SessionId);
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
        OrderRefusal.SessionNotFound => ApiProblem.NotFound("SESSION_NOT_FOUND", "Live session"),
        OrderRefusal.SessionMismatch => ApiProblem.Create(StatusCodes.Status422UnprocessableEntity, "SESSION_MISMATCH", "Not this product's show",
            "sessionId must be a show of this product's seller that went on air."),
        OrderRefusal.ClaimNotFound => ApiProblem.NotFound("CLAIM_NOT_FOUND", "Voucher claim"),
        OrderRefusal.VoucherUsed => ApiProblem.Create(StatusCodes.Status409Conflict, "VOUCHER_USED", "Voucher already used", "This voucher claim has paid for an order already."),
        OrderRefusal.VoucherMinSpend => ApiProblem.Create(StatusCodes.Status409Conflict, "VOUCHER_MIN_SPEND", "Below the voucher's minimum spend",
            "The order's subtotal is below the voucher's minimum spend."),
        OrderRefusal.VoucherNotApplicable => ApiProblem.Create(StatusCodes.Status409Conflict, "VOUCHER_NOT_APPLICABLE", "Voucher not applicable",
            "The voucher is for another seller's products or another currency."),
        _ => throw new ArgumentOutOfRangeException(nameof(refusal)),
    };

    internal static async Task<Results<Ok<Order>, ProblemHttpResult>> Get(string id, ClaimsPrincipal user, OrderStore orders, CancellationToken ct)
    {
        var row = await orders.FindAsync(id, ct);
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
        [FromQuery] int? limit, [FromQuery] string? cursor, ClaimsPrincipal user, OrderStore orders, CancellationToken ct) =>
        PagedQuery.Bind(limit, cursor, out var invalid) is { } page ? TypedResults.Ok(await orders.PageForBuyerAsync(user.UserId(), page, ct)) : invalid!;
}
