using Microsoft.AspNetCore.Http.HttpResults;

namespace Pasar.Server.Platform.Http;

/// <summary>RFC 9457 problem details with Pasar's stable machine <c>code</c>.</summary>
internal static class ApiProblem
{
    public static ProblemHttpResult Create(int status, string code, string title, string? detail = null, IDictionary<string, object?>? extra = null)
    {
        var extensions = new Dictionary<string, object?> { ["code"] = code };
        if (extra is not null)
        {
            foreach (var (k, v) in extra)
            {
                extensions[k] = v;
            }
        }

        return TypedResults.Problem(detail: detail, statusCode: status, title: title, type: $"https://pasar.dev/problems/{code.ToLowerInvariant().Replace('_', '-')}", extensions: extensions);
    }

    public static ProblemHttpResult NotFound(string code, string what) => Create(StatusCodes.Status404NotFound, code, $"{what} not found");

    public static ProblemHttpResult Forbidden(string detail) => Create(StatusCodes.Status403Forbidden, "FORBIDDEN", "Forbidden", detail);

    public static ValidationProblem Validation(IDictionary<string, string[]> errors) =>
        TypedResults.ValidationProblem(errors, title: "The request is not valid", type: "https://pasar.dev/problems/validation-failed",
            extensions: new Dictionary<string, object?> { ["code"] = "VALIDATION_FAILED" });

    /// <summary>The default code for a status when nothing more specific was said (401 from auth, 404 from routing, …).</summary>
    internal static string DefaultCode(int status) => status switch
    {
        400 => "BAD_REQUEST",
        401 => "UNAUTHORIZED",
        403 => "FORBIDDEN",
        404 => "NOT_FOUND",
        405 => "METHOD_NOT_ALLOWED",
        409 => "CONFLICT",
        413 => "PAYLOAD_TOO_LARGE",
        414 => "URI_TOO_LONG",
        415 => "UNSUPPORTED_MEDIA_TYPE",
        422 => "UNPROCESSABLE",
        429 => "RATE_LIMITED",
        431 => "HEADERS_TOO_LARGE",
        503 => "UNAVAILABLE",
        _ => status >= 500 ? "INTERNAL_ERROR" : "ERROR",
    };
}
