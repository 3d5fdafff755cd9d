using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Pasar.Server.Platform.Auth;
using Pasar.Server.Platform.Http;

namespace Pasar.Server.Engagement;

/// <summary>Polls and provably fair giveaways in a live session (SPEC §14).</summary>
internal static class EngagementApi
{
    public static void MapEngagementApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/api/live/sessions/{id}/polls").RequireId("id", "SESSION_NOT_FOUND", "Live session")
            .MapPost("/", StartPoll).WithTags("Polls").WithName("StartPoll").RequireAuthorization(Policies.User)
            .WithSummary("Open a poll with 2 to 6 options in a live session (owner or moderator, while live); one open poll per session");
        var polls = app.MapGroup("/api/polls/{id}").WithTags("Polls").RequireId("id", "POLL_NOT_FOUND", "Poll");
        polls.MapGet("/", GetPoll).WithName("GetPoll").AllowAnonymous().WithSummary("A poll with its counts");
        polls.MapPost("/close", ClosePoll).WithName("ClosePoll").RequireAuthorization(Policies.User).WithSummary("Close the poll now (owner or moderator); results stay visible");
        polls.MapPost("/votes", Vote).WithName("VoteInPoll").RequireAuthorization(Policies.User)
            .WithSummary("Vote for an option (its index from 0); one vote per person, only while open");

        app.MapGroup("/api/live/sessions/{id}/giveaways").RequireId("id", "SESSION_NOT_FOUND", "Live session")
            .MapPost("/", StartGiveaway).WithTags("Giveaways").WithName("StartGiveaway").RequireAuthorization(Policies.User)
            .WithSummary("Start a coin giveaway (owner, while live): prizeCoins × winners leave your balance now; the seed's hash is published");
        var giveaways = app.MapGroup("/api/giveaways/{id}").WithTags("Giveaways").RequireId("id", "GIVEAWAY_NOT_FOUND", "Giveaway");
        giveaways.MapGet("/", GetGiveaway).WithName("GetGiveaway").AllowAnonymous()
            .WithSummary("A giveaway; after the draw also the seed, the entrants' ids and the winners, so anyone can recompute it");
        giveaways.MapPost("/entries", Enter).WithName("EnterGiveaway").RequireAuthorization(Policies.User)
            .WithSummary("Enter the giveaway (a viewer in the room now); one entry per person");
    }

    internal static Task<Results<Created<Poll>, ProblemHttpResult, ValidationProblem>> StartPoll(
        string id, StartPollRequest body, ClaimsPrincipal user, PollService polls, CancellationToken ct) =>
        polls.StartAsync(id, user.UserId(), body, ct);

    internal static async Task<Results<Ok<Poll>, ProblemHttpResult>> GetPoll(string id, PollService polls, CancellationToken ct) =>
        await polls.GetAsync(id, ct) is { } poll ? TypedResults.Ok(poll) : ApiProblem.NotFound("POLL_NOT_FOUND", "Poll");

    internal static Task<Results<Ok<Poll>, ProblemHttpResult>> ClosePoll(string id, ClaimsPrincipal user, PollService polls, CancellationToken ct) =>
        polls.CloseAsync(id, user.UserId(), ct);

    internal static Task<Results<NoContent, ProblemHttpResult, ValidationProblem>> Vote(
        string id, VoteRequest body, ClaimsPrincipal user, PollService polls, CancellationToken ct) =>
        polls.VoteAsync(id, user.UserId(), body, ct);

    internal static Task<Results<Created<Giveaway>, ProblemHttpResult, ValidationProblem>> StartGiveaway(
        string id, StartGiveawayRequest body, ClaimsPrincipal user, GiveawayService giveaways, CancellationToken ct) =>
        giveaways.StartAsync(id, user.UserId(), body, ct);

    internal static async Task<Results<Ok<Giveaway>, ProblemHttpResult>> GetGiveaway(string id, GiveawayService giveaways, CancellationToken ct) =>
        await giveaways.GetAsync(id, ct) is { } giveaway ? TypedResults.Ok(giveaway) : ApiProblem.NotFound("GIVEAWAY_NOT_FOUND", "Giveaway");

    internal static Task<Results<NoContent, ProblemHttpResult>> Enter(string id, ClaimsPrincipal user, GiveawayService giveaways, CancellationToken ct) =>
        giveaways.EnterAsync(id, user.UserId(), ct);
}
