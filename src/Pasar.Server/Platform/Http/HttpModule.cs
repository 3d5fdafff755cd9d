using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.SignalR;

namespace Pasar.Server.Platform.Http;

/// <summary>JSON conventions, problem details with codes, and request limits for the whole API.</summary>
public static class HttpModule
{
    /// <summary>No API request body is bigger than this; larger ones are refused before they are read.</summary>
    public const long MaxRequestBodyBytes = 1024 * 1024;

    public static IHostApplicationBuilder AddPasarHttp(this IHostApplicationBuilder builder)
    {
        builder.Services.Configure<JsonOptions>(o =>
        {
            o.SerializerOptions.PropertyNamingPolicy = JsonNamingPolicy.CamelCase;
            o.SerializerOptions.DefaultIgnoreCondition = JsonIgnoreCondition.Never;
            o.SerializerOptions.NumberHandling = JsonNumberHandling.Strict;
            o.SerializerOptions.UnmappedMemberHandling = JsonUnmappedMemberHandling.Skip;
        });
        builder.Services.Configure<RouteHandlerOptions>(o => o.ThrowOnBadRequest = true);
        builder.Services.AddProblemDetails(o => o.CustomizeProblemDetails = ctx =>
        {
            var status = ctx.ProblemDetails.Status ?? ctx.HttpContext.Response.StatusCode;
            ctx.ProblemDetails.Extensions.TryAdd("code", ApiProblem.DefaultCode(status));
            ctx.ProblemDetails.Extensions.TryAdd("traceId", ctx.HttpContext.TraceIdentifier);
        });
        builder.Services.AddExceptionHandler<BadRequestExceptionHandler>();
        builder.Services.AddExceptionHandler<StoreUnavailableHandler>();
        builder.Services.AddSingleton<StoreUnavailableHubFilter>();
        builder.Services.Configure<HubOptions>(o => o.AddFilter<StoreUnavailableHubFilter>());
        builder.Services.Configure<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>(o =>
        {
            o.Limits.MaxRequestBodySize = MaxRequestBodyBytes;
            o.AddServerHeader = false;
        });
        return builder;
    }

    public static WebApplication UsePasarHttp(this WebApplication app)
    {
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        return app;
    }

    /// <summary>Turns body-binding failures (bad JSON, wrong types, too large) into problem details with a code.</summary>
    private sealed class BadRequestExceptionHandler(IProblemDetailsService problems) : IExceptionHandler
    {
        public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
        {
            if (exception is not BadHttpRequestException bad)
            {
                return false;
            }

            var tooLarge = bad.StatusCode == StatusCodes.Status413PayloadTooLarge;
            var (code, title, detail) = tooLarge
                ? ("PAYLOAD_TOO_LARGE", "Request body too large", $"Request bodies are limited to {MaxRequestBodyBytes} bytes.")
                : bad.InnerException is JsonException json
                    ? ("INVALID_BODY", "The request body is not valid JSON for this request", json.Message)
                    : ("INVALID_BODY", "The request could not be read", bad.Message);
            httpContext.Response.StatusCode = tooLarge ? StatusCodes.Status413PayloadTooLarge : StatusCodes.Status400BadRequest;
            return await problems.TryWriteAsync(new ProblemDetailsContext
            {
                HttpContext = httpContext,
                Exception = exception,
                ProblemDetails =
                {
                    Status = httpContext.Response.StatusCode,
                    Title = title,
                    Detail = detail,
                    Type = $"https://pasar.dev/problems/{code.ToLowerInvariant().Replace('_', '-')}",
                    Extensions = { ["code"] = code },
                },
            });
        }
    }
}
