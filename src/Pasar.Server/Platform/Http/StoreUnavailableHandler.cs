using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.SignalR;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Platform.Http;

/// <summary>
/// A request that needed a store that is down (PostgreSQL, Redis/Garnet, SQLite busy after retries) gets
/// <c>503 STORE_UNAVAILABLE</c> with <c>Retry-After</c> (SPEC §17), and the log gets one short line, not a stack
/// trace per request: during an outage every request fails the same way.
/// </summary>
internal sealed class StoreUnavailableHandler(IProblemDetailsService problems, ILogger<StoreUnavailableHandler> logger) : IExceptionHandler
{
    public const string Code = "STORE_UNAVAILABLE";

    /// <summary>Seconds a client should wait before retrying; outages the loops wait out are of this order.</summary>
    public const int RetryAfterSeconds = 2;

    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (!StoreFaults.IsUnavailable(exception) || httpContext.Response.HasStarted)
        {
            return false;
        }

        logger.LogWarning("{Method} {Path} answered 503: {Error}", httpContext.Request.Method, httpContext.Request.Path, StoreFaults.Describe(exception));
        httpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        httpContext.Response.Headers.RetryAfter = RetryAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            ProblemDetails =
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "A store Pasar needs is unavailable",
                Detail = "The database or the hot-state store did not answer. Nothing was changed unless the operation's Idempotency-Key replays it; try again shortly.",
                Type = "https://pasar.dev/problems/store-unavailable",
                Extensions = { ["code"] = Code },
            },
        });
    }
}

/// <summary>The same rule for hub calls: a store outage is refused as <c>STORE_UNAVAILABLE</c> with one short log line.</summary>
internal sealed class StoreUnavailableHubFilter(ILogger<StoreUnavailableHubFilter> logger) : IHubFilter
{
    public async ValueTask<object?> InvokeMethodAsync(HubInvocationContext invocationContext, Func<HubInvocationContext, ValueTask<object?>> next)
    {
        try
        {
            return await next(invocationContext);
        }
        catch (Exception ex) when (ex is not HubException && StoreFaults.IsUnavailable(ex))
        {
            logger.LogWarning("Hub call {Method} refused: {Error}", invocationContext.HubMethodName, StoreFaults.Describe(ex));
            throw new HubException($"{StoreUnavailableHandler.Code}: a store is unavailable; try again shortly.");
        }
    }
}
