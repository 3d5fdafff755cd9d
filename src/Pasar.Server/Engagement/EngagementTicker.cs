using Pasar.Server.Platform;

namespace Pasar.Server.Engagement;

/// <summary>Four times a second: push coalesced poll counts; every second: close polls and draw giveaways whose time is up.</summary>
internal sealed class EngagementTicker(PollService polls, GiveawayService giveaways, ILogger<EngagementTicker> logger) : RoomTicker(logger, "Engagement")
{
    protected override Task PushAsync(CancellationToken ct) => polls.PushUpdatesAsync(ct);

    protected override async Task SettleDueAsync(CancellationToken ct)
    {
        await polls.CloseDueAsync(ct);
        await giveaways.DrawDueAsync(ct);
    }
}
