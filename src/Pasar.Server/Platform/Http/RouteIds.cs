namespace Pasar.Server.Platform.Http;

/// <summary>
/// The id constraint of Pasar's routes. An id longer than any id Pasar issues cannot name a row, so it is answered
/// with the resource's own 404 code before the handler runs or the database is asked. (A routing constraint such
/// as <c>{id:maxlength(64)}</c> would answer the generic <c>NOT_FOUND</c> instead, and SPEC names the codes.)
/// </summary>
internal static class RouteIds
{
    public const int MaxLength = 64;

    /// <summary>Route parameter <paramref name="parameter"/> must be an id of at most 64 characters, else 404 <paramref name="code"/>.</summary>
    public static TBuilder RequireId<TBuilder>(this TBuilder builder, string parameter, string code, string what)
        where TBuilder : IEndpointConventionBuilder =>
        builder.AddEndpointFilter(async (context, next) =>
            context.HttpContext.Request.RouteValues.TryGetValue(parameter, out var value) && value is string id && !IsPlausible(id)
                ? ApiProblem.NotFound(code, what)
                : await next(context));

    public static bool IsPlausible(string id) => id.Length is > 0 and <= MaxLength;
}
