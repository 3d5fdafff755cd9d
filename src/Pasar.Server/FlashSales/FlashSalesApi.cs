using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Pasar.Server.Live;
using Pasar.Server.Orders;
using Pasar.Server.Platform.Auth;
using Pasar.Server.Platform.Http;

namespace Pasar.Server.FlashSales;

/// <summary>Flash sales: started in a live session, read and bought by id.</summary>
internal static class FlashSalesApi
{
    public static void MapFlashSalesApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/api/live/sessions/{id}/flash-sales").WithTags("Flash sales").RequireId("id", "SESSION_NOT_FOUND", "Live session")
            .MapPost("/", Start).RequireAuthorization(Policies.User).WithSummary("Start a flash sale in your live session: the quantity is taken from stock now, the unsold rest returns at the end");
        var sales = app.MapGroup("/api/flash-sales/{id}").WithTags("Flash sales").RequireId("id", "FLASH_SALE_NOT_FOUND", "Flash sale");
        sales.MapGet("/", Get).AllowAnonymous().WithSummary("A flash sale with its remaining units");
        sales.MapPost("/purchases", Purchase).RequireAuthorization(Policies.Buyer)
            .WithSummary("Buy in a flash sale (buyer); send an Idempotency-Key");
    }

    internal static async Task<Results<Created<FlashSale>, ProblemHttpResult, ValidationProblem>> Start(
        string id, StartFlashSaleRequest body, ClaimsPrincipal user, LiveSessionStore sessions, FlashSaleService sales, CancellationToken ct)
    {
        var session = await sessions.FindAsync(id, ct);
        if (session is null)
        {
            return ApiProblem.NotFound("SESSION_NOT_FOUND", "Live session");
        }

        if (session.SellerId != user.UserId())
        {
            return ApiProblem.Forbidden("Only the session's seller can start a flash sale.");
        }

        return await sales.StartAsync(session, body, ct);
    }

    internal static async Task<Results<Ok<FlashSale>, ProblemHttpResult>> Get(string id, FlashSaleService sales, CancellationToken ct) =>
        await sales.GetAsync(id, ct) is { } sale ? TypedResults.Ok(sale) : ApiProblem.NotFound("FLASH_SALE_NOT_FOUND", "Flash sale");

    internal static Task<Results<Created<Order>, ProblemHttpResult, ValidationProblem, PreparedProblem>> Purchase(
        string id, FlashPurchaseRequest body, [FromHeader(Name = IdempotencyStore.Header)] string? idempotencyKey,
        ClaimsPrincipal user, FlashSaleService sales, CancellationToken ct) =>
        sales.PurchaseAsync(id, user.UserId(), body, idempotencyKey, ct);
}
