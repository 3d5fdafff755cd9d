using Pasar.Server.LiveRoom;

namespace Pasar.Server.Engagement;

/// <summary>Polls and provably fair giveaways in live rooms (SPEC §14); tables polls, poll_votes, giveaways, giveaway_seeds, giveaway_entries.</summary>
internal static class EngagementModule
{
    public static IHostApplicationBuilder AddEngagement(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<PollService>();
        builder.Services.AddSingleton<GiveawayService>();
        builder.Services.AddHostedService<EngagementTicker>();
        builder.Services.AddSingleton<IActiveEngagementLookup, ActiveEngagementLookup>();
        builder.Services.AddRoomMessages((broadcaster, _) =>
        {
            broadcaster.Register<Poll>("pollStarted");
            broadcaster.Register<PollUpdated>("pollUpdated");
            broadcaster.Register<Poll>("pollEnded");
            broadcaster.Register<Giveaway>("giveawayStarted");
            broadcaster.Register<GiveawayDrawn>("giveawayDrawn");
        });
        return builder;
    }

    public static IEndpointRouteBuilder MapEngagement(this IEndpointRouteBuilder app)
    {
        app.MapEngagementApi();
        return app;
    }
}

internal sealed class ActiveEngagementLookup(PollService polls, GiveawayService giveaways) : IActiveEngagementLookup
{
    public async Task<object?> ActivePollAsync(string sessionId, CancellationToken ct) => await polls.ActiveForSessionAsync(sessionId, ct);

    public async Task<object?> ActiveGiveawayAsync(string sessionId, CancellationToken ct) => await giveaways.ActiveForSessionAsync(sessionId, ct);
}
