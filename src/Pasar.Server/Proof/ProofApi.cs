using Microsoft.AspNetCore.Http.HttpResults;
using Pasar.Server.Platform.Http;

namespace Pasar.Server.Proof;

/// <summary>A product's social-proof signals.</summary>
internal static class ProofApi
{
    public static void MapProofApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/api/products/{id}/signals").WithTags("Social proof").RequireId("id", "PRODUCT_NOT_FOUND", "Product")
            .MapGet("/", Signals).AllowAnonymous().WithSummary("How many people bought this in the last hour, and whether stock is low");
    }

    internal static async Task<Results<Ok<ProductSignals>, ProblemHttpResult>> Signals(string id, SocialProof proof, CancellationToken ct) =>
        await proof.SignalsAsync(id, ct) is { } signals ? TypedResults.Ok(signals) : ApiProblem.NotFound("PRODUCT_NOT_FOUND", "Product");
}
