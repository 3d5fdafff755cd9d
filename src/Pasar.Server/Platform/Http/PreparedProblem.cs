using System.Diagnostics;
using System.Text;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Metadata;

namespace Pasar.Server.Platform.Http;

/// <summary>
/// A refusal answered thousands of times a second (a sold-out flash sale): the same problem details as
/// <see cref="ApiProblem.Create"/>, written as UTF-8 bytes prepared once instead of serialized per request.
/// The bytes come from the framework's own rendering of the problem (the first time it is sent), cut where the
/// request's trace id goes, so status, <c>Content-Type</c> and body are those of <see cref="ToProblem"/>; the
/// only difference is framing: the length is known, so the answer carries <c>Content-Length</c> instead of
/// being chunked. A request that negotiates (an <c>Accept</c> header) gets the framework's answer itself.
/// </summary>
internal sealed class PreparedProblem : IResult, IStatusCodeHttpResult, IContentTypeHttpResult, IEndpointMetadataProvider
{
    // A trace id no real request has; the rendering is cut at it.
    private const string TraceMarker = "prepared-problem-trace-id";

    private readonly string _code;
    private readonly string _title;
    private readonly string _detail;
    private Rendering? _rendering;

    private sealed record Rendering(byte[] Head, byte[]? Tail, int Status, string ContentType);

    public PreparedProblem(int status, string code, string title, string detail)
    {
        StatusCode = status;
        _code = code;
        _title = title;
        _detail = detail;
    }

    public int StatusCode { get; }

    int? IStatusCodeHttpResult.StatusCode => StatusCode;

    public string ContentType => "application/problem+json";

    /// <summary>The same problem as a framework result (inside a transaction's outcome, or to negotiate).</summary>
    public ProblemHttpResult ToProblem() => ApiProblem.Create(StatusCode, _code, _title, _detail);

    public Task ExecuteAsync(HttpContext context)
    {
        var traceId = Activity.Current?.Id ?? context.TraceIdentifier;
        if (context.Request.Headers.Accept.Count != 0 || !IsPlain(traceId))
        {
            return ToProblem().ExecuteAsync(context);
        }

        var r = _rendering ??= Render(context.RequestServices);
        var length = r.Head.Length + (r.Tail is null ? 0 : traceId.Length + r.Tail.Length);
        var response = context.Response;
        response.StatusCode = r.Status;
        response.ContentType = r.ContentType;
        response.ContentLength = length;
        var writer = response.BodyWriter;
        var span = writer.GetSpan(length);
        r.Head.CopyTo(span);
        if (r.Tail is not null)
        {
            Encoding.ASCII.GetBytes(traceId, span[r.Head.Length..]);
            r.Tail.CopyTo(span[(r.Head.Length + traceId.Length)..]);
        }

        writer.Advance(length);
        var flush = writer.FlushAsync();
        return flush.IsCompletedSuccessfully ? Task.CompletedTask : flush.AsTask();
    }

    public static void PopulateMetadata(System.Reflection.MethodInfo method, EndpointBuilder builder) =>
        builder.Metadata.Add(new ProducesResponseTypeMetadata(StatusCodes.Status409Conflict, typeof(Microsoft.AspNetCore.Mvc.ProblemDetails), ["application/problem+json"]));

    // Trace ids are W3C ids or Kestrel's connection:request ids; anything else (a custom one that JSON would
    // escape) goes through the serializer.
    private static bool IsPlain(string traceId)
    {
        foreach (var c in traceId)
        {
            if (c is not ((>= 'a' and <= 'z') or (>= 'A' and <= 'Z') or (>= '0' and <= '9') or '-' or ':' or '.' or '|' or '_'))
            {
                return false;
            }
        }

        return traceId.Length is > 0 and <= 256;
    }

    /// <summary>The framework's own answer for this problem, rendered once with a marker where the trace id goes.</summary>
    private Rendering Render(IServiceProvider services)
    {
        // Outside the request's execution context, so that no Activity gives the rendering its trace id.
        using (ExecutionContext.SuppressFlow())
        {
            return Task.Run(async () =>
            {
                var context = new DefaultHttpContext { RequestServices = services, TraceIdentifier = TraceMarker };
                using var body = new MemoryStream();
                context.Response.Body = body;
                await ToProblem().ExecuteAsync(context);
                await context.Response.CompleteAsync();
                var bytes = body.ToArray();
                var marker = Encoding.UTF8.GetBytes(TraceMarker);
                var at = bytes.AsSpan().IndexOf(marker);
                return at < 0
                    ? new Rendering(bytes, null, context.Response.StatusCode, context.Response.ContentType ?? ContentType)
                    : new Rendering(bytes[..at], bytes[(at + marker.Length)..], context.Response.StatusCode, context.Response.ContentType ?? ContentType);
            }).GetAwaiter().GetResult();
        }
    }
}
