using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.AspNetCore.SignalR;

namespace Pasar.Server.Platform.Http;

/// <summary>JSON conventions, problem details with codes, and request limits for the whole API.</summary>
internal static partial class HttpModule
{
    /// <summary>No API request body is bigger than this; larger ones are refused before they are read.</summary>
    public const long MaxRequestBodyBytes = 1024 * 1024;

    /// <summary>
    /// The longest request target (path and query) and the most header bytes and headers a request may have,
    /// answered 414 and 431 with problem details. Kestrel's own limits are set above these, so that the request
    /// reaches the pipeline and gets a body; only beyond Kestrel's (4× and 2×) does Kestrel answer bodiless.
    /// </summary>
    public const int MaxRequestTargetLength = 8 * 1024;
    public const int MaxRequestHeadersBytes = 32 * 1024;
    public const int MaxRequestHeaderCount = 100;

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
        builder.AddHttpEdge();
        builder.AddPasarRateLimits();
        builder.Services.AddExceptionHandler<StoreUnavailableHandler>();
        builder.Services.AddSingleton<StoreUnavailableHubFilter>();
        builder.Services.Configure<HubOptions>(o => o.AddFilter<StoreUnavailableHubFilter>());
        builder.Services.Configure<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>(o =>
        {
            o.Limits.MaxRequestBodySize = MaxRequestBodyBytes;
            o.Limits.MaxRequestLineSize = 4 * MaxRequestTargetLength;
            o.Limits.MaxRequestHeadersTotalSize = 2 * MaxRequestHeadersBytes;
            o.Limits.MaxRequestHeaderCount = 2 * MaxRequestHeaderCount;
            o.AddServerHeader = false;
        });

        // Binding is Platform's job. A module that adds an endpoint in code (RTMP does) makes Kestrel ignore the
        // configured URLs, so the HTTP endpoints are always bound here from the same settings (--urls,
        // ASPNETCORE_URLS, ASPNETCORE_HTTP_PORTS), before any module's; Kestrel:Endpoints Kestrel binds itself.
        builder.Services.AddOptions<Microsoft.AspNetCore.Server.Kestrel.Core.KestrelServerOptions>()
            .Configure<IConfiguration>((kestrel, configuration) => KestrelUrls.ListenOnConfiguredUrls(kestrel, configuration));
        return builder;
    }

    public static WebApplication UsePasarHttp(this WebApplication app)
    {
        app.Use(RefuseOversizedRequestAsync);
        // Next, so that everything after sees the client's address and scheme, not the proxy's.
        app.UseHttpEdge();
        app.Use((context, next) =>
        {
            // No response of Pasar is meant to be sniffed into another type (JSON as HTML, an upload as script).
            context.Response.Headers.XContentTypeOptions = "nosniff";
            return next(context);
        });
        app.UseExceptionHandler();
        app.UseStatusCodePages();
        return app;
    }

    private static Task RefuseOversizedRequestAsync(HttpContext context, RequestDelegate next)
    {
        var target = context.Features.Get<Microsoft.AspNetCore.Http.Features.IHttpRequestFeature>()?.RawTarget ?? "";
        if (target.Length > MaxRequestTargetLength)
        {
            return ApiProblem.Create(StatusCodes.Status414UriTooLong, "URI_TOO_LONG", "Request URI too long",
                $"Request targets (path and query) are limited to {MaxRequestTargetLength} characters.").ExecuteAsync(context);
        }

        var headers = context.Request.Headers;
        long bytes = 0;
        foreach (var (name, values) in headers)
        {
            bytes += name.Length + 4; // ": " and CRLF
            foreach (var value in values)
            {
                bytes += value?.Length ?? 0;
            }
        }

        if (bytes > MaxRequestHeadersBytes || headers.Count > MaxRequestHeaderCount)
        {
            return ApiProblem.Create(StatusCodes.Status431RequestHeaderFieldsTooLarge, "HEADERS_TOO_LARGE", "Request headers too large",
                $"Requests are limited to {MaxRequestHeaderCount} headers and {MaxRequestHeadersBytes} bytes of them.").ExecuteAsync(context);
        }

        return next(context);
    }

    // The framework's messages name .NET types ("could not be converted to System.Int64", "Required parameter
    // \"CreateProductRequest body\""); a client is told where the problem is in its own terms instead.
    private static string JsonDetail(JsonException json) => json.Path is { Length: > 0 } path
        ? $"The value at {path} is missing, malformed or of the wrong type."
        : "The body is not well-formed JSON.";

    private static string BindingDetail(BadHttpRequestException bad) =>
        ParameterName().Match(bad.Message) is { Success: true } m
            ? $"The value of '{m.Groups["name"].Value}' is missing or not valid."
            : "The request body is missing or could not be read.";

    [System.Text.RegularExpressions.GeneratedRegex("parameter \"[^\"]* (?<name>[A-Za-z0-9_]+)\"")]
    private static partial System.Text.RegularExpressions.Regex ParameterName();

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
                    ? ("INVALID_BODY", "The request body is not valid JSON for this request", JsonDetail(json))
                    : ("INVALID_BODY", "The request could not be read", BindingDetail(bad));
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
