using Pasar.Server.Coins;
using Pasar.Server.Platform.Events;

namespace Pasar.Server.Notifications;

internal static class NotificationsModule
{
    public static IHostApplicationBuilder AddNotifications(this IHostApplicationBuilder builder)
    {
        builder.Services.AddSingleton<NotificationInbox>();
        builder.Services.AddEventHandler<CoinsAwarded, CoinsEarnedNotification>();
        return builder;
    }

    public static IEndpointRouteBuilder MapNotifications(this IEndpointRouteBuilder app)
    {
        app.MapNotificationsApi();
        return app;
    }
}

/// <summary>Tells a user about every coin award (COINS_EARNED).</summary>
internal sealed class CoinsEarnedNotification(NotificationInbox inbox) : IEventHandler<CoinsAwarded>
{
    public Task HandleAsync(CoinsAwarded e, EventContext context, CancellationToken ct) =>
        inbox.AddAsync(context, e.UserId, NotificationTypes.CoinsEarned,
            $"+{e.Amount} coins",
            e.Source switch
            {
                CoinSources.CheckIn => "Daily check-in reward.",
                CoinSources.Shake => "You won them in Shake-Shake.",
                CoinSources.Referral => "A friend bought through your share link.",
                _ => "Coins were added to your wallet.",
            },
            new { amount = e.Amount, source = e.Source, reference = e.Reference, balance = e.BalanceAfter }, ct);
}
