using Pasar.Server.Live;

namespace Pasar.Server.Engagement;

/// <summary>
/// Who may run what in a session. One place, so moderators (SPEC §14: they may run and close polls, not
/// giveaways) are one more condition here, not a change in every route.
/// </summary>
internal static class EngagementAccess
{
    public static bool CanRunPolls(LiveSessionRow session, string userId) => session.SellerId == userId;

    public static bool CanRunGiveaways(LiveSessionRow session, string userId) => session.SellerId == userId;
}
