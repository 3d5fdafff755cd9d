using Microsoft.AspNetCore.SignalR;
using Pasar.Server.Notifications;

namespace Pasar.Server.LiveRoom;

/// <summary>Pushes new notifications to each user's open pages over the hub (any node, via the backplane).</summary>
internal sealed class HubNotificationPush(IHubContext<LiveHub> hub) : INotificationPush
{
    public Task PushAsync(IReadOnlyList<string> userIds, Notification notification) =>
        hub.Clients.Users(userIds).SendAsync("notification", notification);
}
