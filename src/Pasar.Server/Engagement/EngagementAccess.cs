using Pasar.Server.Live;
using Pasar.Server.LiveRoom;

namespace Pasar.Server.Engagement;

/// <summary>
/// Who may run what in a session. One place, so moderators (SPEC §14: they may run and close polls, not
/// giveaways) are one condition here, not a change in every route. Whether someone moderates is asked of the
/// live room (<see cref="ISessionModerators"/>, read in SQL each time), so a removal takes effect at once.
/// </summary>
internal static class EngagementAccess
{
    public static async Task<bool> CanRunPollsAsync(LiveSessionRow session, string userId, ISessionModerators moderators, CancellationToken ct) =>
        session.SellerId == userId || await moderators.IsModeratorAsync(session.Id, userId, ct);

    public static bool CanRunGiveaways(LiveSessionRow session, string userId) => session.SellerId == userId;
}
