using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;
using Pasar.Server.Live;
using Pasar.Server.Orders;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Events;

namespace Pasar.Server.LiveRoom;

/// <summary>The live room: the SignalR hub, chat and moderation, pins, presence and live analytics.</summary>
internal static class LiveRoomModule
{
    public static IHostApplicationBuilder AddLiveRoom(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<ChatOptions>().BindConfiguration("Pasar:Chat")
            .Validate(o => o.MaxPendingWrites is >= 4 and <= 10_000, "Pasar:Chat:MaxPendingWrites must be between 4 and 10000.")
            .Validate(o => o.CoalesceTick >= TimeSpan.FromMilliseconds(10) && o.CoalesceTick <= TimeSpan.FromSeconds(5), "Pasar:Chat:CoalesceTick must be between 10 ms and 5 s.")
            .ValidateOnStart();
        builder.Services.AddOptions<LiveRoomOptions>().BindConfiguration(LiveRoomOptions.Section)
            .Validate(o => o.MaxChatShownPerSecond is >= 1 and <= 100_000, "Pasar:LiveRoom:MaxChatShownPerSecond must be between 1 and 100000.")
            .ValidateOnStart();
        builder.Services.AddSingleton<LiveRoomMetrics>();
        builder.Services.AddSingleton<ViewerIds>();
        builder.Services.AddSingleton<LiveHubFilter>();
        var signalr = builder.Services.AddSignalR(o =>
        {
            o.EnableDetailedErrors = false;
            o.MaximumReceiveMessageSize = 16 * 1024;
            o.AddFilter<LiveHubFilter>();
        }).AddMessagePackProtocol();

        // SignalR's dispatcher logs every exception a hub method throws as an Error with its stack trace, refusals
        // included: one spamming client would flood the log. LiveHubFilter logs those calls in proportion instead.
        builder.Logging.AddFilter("Microsoft.AspNetCore.SignalR.Internal.DefaultHubDispatcher", LogLevel.Critical);
        var redis = builder.Configuration["Pasar:Redis:ConnectionString"];
        if (!string.IsNullOrWhiteSpace(redis))
        {
            // Several nodes: SignalR's own messages (to a user, to all) cross nodes through the Redis backplane.
            var prefix = builder.Configuration["Pasar:Redis:KeyPrefix"] ?? "pasar:";
            signalr.AddStackExchangeRedis(redis, o => o.Configuration.ChannelPrefix = StackExchange.Redis.RedisChannel.Literal(prefix + "signalr"));
        }

        builder.Services.AddSingleton<IUserIdProvider, SubjectUserIdProvider>();
        builder.Services.AddSingleton(sp =>
        {
            var registry = ActivatorUtilities.CreateInstance<RoomRegistry>(sp);
            registry.MaxPendingWrites = sp.GetRequiredService<IOptions<ChatOptions>>().Value.MaxPendingWrites;
            return registry;
        });
        // Wraps whichever lifetime manager SignalR would use, to reach each connection for room fan-out.
        var inner = builder.Services.LastOrDefault(d => d.ServiceType == typeof(HubLifetimeManager<>))?.ImplementationType ?? typeof(DefaultHubLifetimeManager<>);
        builder.Services.AddSingleton<HubLifetimeManager<LiveHub>>(sp => new RoomLifetimeManager<LiveHub>(
            (HubLifetimeManager<LiveHub>)ActivatorUtilities.CreateInstance(sp, inner.MakeGenericType(typeof(LiveHub))),
            sp.GetRequiredService<RoomRegistry>()));

        // Each module names the payloads it sends to rooms (and may watch room events) with AddRoomMessages; the
        // broadcaster applies them when it is built, so that mapping endpoints has no side effects.
        builder.Services.AddSingleton(sp =>
        {
            var broadcaster = ActivatorUtilities.CreateInstance<RoomBroadcaster>(sp);
            foreach (var setup in sp.GetServices<RoomBroadcasterSetup>())
            {
                setup.Configure(broadcaster, sp);
            }

            return broadcaster;
        });
        builder.Services.AddRoomMessages((broadcaster, services) =>
        {
            broadcaster.Register<ChatMessage[]>("chat");
            broadcaster.Register<ChatDeleted>("chatDeleted");
            broadcaster.Register<PinsUpdated>("pinsUpdated");
            broadcaster.Register<ViewersUpdated>("viewersUpdated");
            broadcaster.Register<ReactionsUpdated>("reactions");
            broadcaster.Register<SessionStatusChanged>("sessionStatus");
            broadcaster.Register<ChatSettings>("chatSettings");
            broadcaster.Register<ModeratorsChanged>("moderatorsChanged");
            broadcaster.OnEvent(services.GetRequiredService<SessionModerators>().Observe);
            broadcaster.OnEvent(services.GetRequiredService<RecentChat>().Observe);
            broadcaster.OnEvent(services.GetRequiredService<RoomSessions>().Observe);
            var settings = services.GetRequiredService<ChatSettingsCache>();
            broadcaster.OnEvent((target, id, method, payload) =>
            {
                if (target == RoomTarget.Session && (method == "chatSettings" || payload is SessionStatusChanged { Status: LiveStatus.Ended }))
                {
                    settings.Invalidate(id);
                }
            });
        });
        builder.Services.AddHostedService(sp => sp.GetRequiredService<RoomBroadcaster>());
        builder.Services.AddSingleton<RoomSessions>();
        builder.Services.AddSingleton<ChatSettingsCache>();
        builder.Services.AddSingleton<SessionModerators>();
        builder.Services.AddSingleton<ISessionModerators>(sp => sp.GetRequiredService<SessionModerators>());
        builder.Services.AddSingleton<RecentChat>();
        builder.Services.AddSingleton<ChatWriter>();
        builder.Services.AddSingleton<ChatMessages>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ChatWriter>());
        builder.Services.AddSingleton<ViewWriter>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ViewWriter>());
        builder.Services.AddSingleton<ClickWriter>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ClickWriter>());
        builder.Services.AddSingleton<RoomAnalyticsFeed>();
        builder.Services.AddSingleton<ChatSampler>();
        builder.Services.AddSingleton<ChatCoalescer>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ChatCoalescer>());
        builder.Services.AddSingleton<ChatService>();
        builder.Services.AddSingleton<ReactionTally>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ReactionTally>());
        builder.Services.AddSingleton<ViewerPresence>();
        builder.Services.AddSingleton<IRoomPresence>(sp => sp.GetRequiredService<ViewerPresence>());
        builder.Services.AddSingleton<ViewerCountPusher>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<ViewerCountPusher>());
        builder.Services.AddSingleton<LivePins>();
        builder.Services.AddSingleton<IOrderSessions, OrderSessions>();
        builder.Services.AddSingleton<LiveRoomState>();
        builder.Services.AddSingleton<ILiveRoomView>(sp => sp.GetRequiredService<LiveRoomState>());
        builder.Services.AddSingleton<Notifications.INotificationPush, HubNotificationPush>();
        builder.Services.AddEventHandler<PurchaseCompleted, LivePurchaseAttribution>();
        builder.Services.AddEventHandler<LiveStarted, SessionWentLive>();
        builder.Services.AddEventHandler<LiveEnded, SessionEnded>();
        return builder;
    }

    /// <summary>Adds a module's part of the room broadcaster's setup: the payload types it sends, the room events it watches.</summary>
    internal static IServiceCollection AddRoomMessages(this IServiceCollection services, Action<RoomBroadcaster, IServiceProvider> configure) =>
        services.AddSingleton(new RoomBroadcasterSetup(configure));

    public static IEndpointRouteBuilder MapLiveRoom(this IEndpointRouteBuilder app)
    {
        app.MapHub<LiveHub>("/hubs/live", o =>
        {
            // A connection that stops reading fills these and then its pending writes: it is dropped, not waited for.
            o.TransportMaxBufferSize = 64 * 1024;
            o.ApplicationMaxBufferSize = 64 * 1024;
        }).AllowAnonymous();
        app.MapPins();
        app.MapChatApi();
        app.MapModerators();
        app.MapStats();
        app.MapSellerAnalytics();
        app.MapAnalyticsBackfill();
        return app;
    }
}

/// <summary>One module's part of the room broadcaster's setup (see <see cref="LiveRoomModule.AddRoomMessages"/>).</summary>
internal sealed record RoomBroadcasterSetup(Action<RoomBroadcaster, IServiceProvider> Configure);

/// <summary>SignalR's user id is the token's <c>sub</c>, the same id the API uses.</summary>
internal sealed class SubjectUserIdProvider : IUserIdProvider
{
    public string? GetUserId(HubConnectionContext connection) => connection.User?.FindFirst("sub")?.Value;
}

/// <summary>Tells the room the session is on air.</summary>
internal sealed class SessionWentLive(RoomBroadcaster broadcaster) : IEventHandler<LiveStarted>
{
    public Task HandleAsync(LiveStarted e, EventContext context, CancellationToken ct) =>
        broadcaster.PublishAsync(RoomTarget.Session, e.SessionId, "sessionStatus", new SessionStatusChanged(e.SessionId, LiveStatus.Live));
}

/// <summary>Tells the room the session has ended.</summary>
internal sealed class SessionEnded(RoomBroadcaster broadcaster) : IEventHandler<LiveEnded>
{
    public Task HandleAsync(LiveEnded e, EventContext context, CancellationToken ct) =>
        broadcaster.PublishAsync(RoomTarget.Session, e.SessionId, "sessionStatus", new SessionStatusChanged(e.SessionId, LiveStatus.Ended));
}
