using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Pasar.Server.Live;
using Pasar.Server.LiveRoom;
using Pasar.Server.Orders;
using Pasar.Server.Platform.Auth;
using Pasar.Server.Platform.Events;
using Pasar.Server.Platform.Http;

namespace Pasar.Server.FlashSales;

public static class FlashSalesModule
{
    public static IHostApplicationBuilder AddFlashSales(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<FlashSaleOptions>().BindConfiguration("Pasar:FlashSales");
        builder.Services.AddSingleton<FlashSaleGate>();
        builder.Services.AddHostedService<FlashSaleGateRepair>();
        builder.Services.AddSingleton<FlashSaleService>();
        builder.Services.AddHostedService<FlashSaleTicker>();
        builder.Services.AddSingleton<IActiveFlashSaleLookup, ActiveFlashSaleLookup>();
        return builder;
    }

    public static WebApplication MapFlashSales(this WebApplication app)
    {
        var broadcaster = app.Services.GetRequiredService<RoomBroadcaster>();
        broadcaster.Register<FlashSale>("flashSaleStarted");
        broadcaster.Register<FlashSaleUpdated>("flashSaleUpdated");
        broadcaster.Register<FlashSaleEnded>("flashSaleEnded");
        app.MapPost("/api/live/sessions/{id}/flash-sales", Start).WithTags("Flash sales").RequireAuthorization(Policies.User)
            .WithSummary("Start a flash sale in your live session: the quantity is taken from stock now, the unsold rest returns at the end");
        app.MapGet("/api/flash-sales/{id}", Get).WithTags("Flash sales").AllowAnonymous().WithSummary("A flash sale with its remaining units");
        app.MapPost("/api/flash-sales/{id}/purchases", Purchase).WithTags("Flash sales").RequireAuthorization(Policies.Buyer)
            .WithSummary("Buy in a flash sale (buyer); send an Idempotency-Key");
        return app;
    }

    internal static async Task<Results<Created<FlashSale>, ProblemHttpResult, ValidationProblem>> Start(
        string id, StartFlashSaleRequest body, ClaimsPrincipal user, LiveSessionStore sessions, FlashSaleService sales, CancellationToken ct)
    {
        var session = id.Length > 64 ? null : await sessions.FindAsync(id, ct);
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
        id.Length <= 64 && await sales.GetAsync(id, ct) is { } sale ? TypedResults.Ok(sale) : ApiProblem.NotFound("FLASH_SALE_NOT_FOUND", "Flash sale");

    internal static Task<Results<Created<Order>, ProblemHttpResult, ValidationProblem>> Purchase(
        string id, FlashPurchaseRequest body, [FromHeader(Name = IdempotencyStore.Header)] string? idempotencyKey,
        ClaimsPrincipal user, FlashSaleService sales, CancellationToken ct) =>
        sales.PurchaseAsync(id, user.UserId(), body, idempotencyKey, ct);
}

internal sealed class ActiveFlashSaleLookup(FlashSaleService sales) : IActiveFlashSaleLookup
{
    public async Task<object?> ActiveForSessionAsync(string sessionId, CancellationToken ct) => await sales.ActiveForSessionAsync(sessionId, ct);
}
