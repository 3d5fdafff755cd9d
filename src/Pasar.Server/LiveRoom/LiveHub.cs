using Microsoft.AspNetCore.SignalR;
using Pasar.Server.Live;
using Pasar.Server.Platform;

namespace Pasar.Server.LiveRoom;

/// <summary>
/// The live room, <c>/hubs/live</c> (JSON and MessagePack). Anyone may watch; chatting needs a token.
/// Hub errors carry the code first: <c>RATE_LIMITED: …</c>.
/// </summary>
internal sealed class LiveHub(
    RoomRegistry registry,
    RoomSessions sessions,
    ChatService chat,
    ReactionTally reactions,
    LiveRoomMetrics roomMetrics,
    ChatWriter chatWriter,
    RecentChat recent,
    ViewerPresence presence,
    LivePins pins,
    ViewWriter views,
    ClickWriter clicks,
    RoomAnalyticsFeed analytics,
    LiveRoomState state,
    PasarMetrics metrics,
    TimeProvider time) : Hub
{
    public override Task OnConnectedAsync()
    {
        metrics.HubConnections.Add(1);
        return Task.CompletedTask;
    }

    public override async Task OnDisconnectedAsync(Exception? exception)
    {
        metrics.HubConnections.Add(-1);
        if (registry.Find(Context.ConnectionId) is { } member)
        {
            foreach (var sessionId in member.Sessions.Snapshot())
            {
                await LeaveCoreAsync(member, sessionId);
            }
        }
    }

    public async Task<RoomSnapshot> JoinSession(string sessionId)
    {
        var member = Member();
        if (!HubLimits.IsValidId(sessionId))
        {
            throw new HubException($"{ChatErrors.SessionNotFound}: No such live session.");
        }

        var session = await sessions.FindAsync(sessionId, Context.ConnectionAborted) ?? throw new HubException($"{ChatErrors.SessionNotFound}: No such live session.");
        if (!registry.Join(member, sessionId))
        {
            throw new HubException($"{HubLimits.TooManySessions}: One connection may be in at most {HubLimits.MaxJoinedSessions} live sessions; leave one first.");
        }

        var (current, peak, peakWasMissing) = await presence.BeatWithStateAsync(sessionId, member.ViewerId);
        if (peakWasMissing)
        {
            // Only when the hot store had no peak (a room's first viewer, or lost hot state) is SQL asked for one.
            await presence.RestorePeakAsync(sessionId, Context.ConnectionAborted);
            (current, peak) = await presence.CountAsync(sessionId);
        }

        RecordView(new ViewEvent(ViewId(sessionId), sessionId, member.ViewerId, member.UserId, ViewEventKind.Start, time.GetUtcNow().ToUnixTimeMilliseconds()));
        if (member.UserId is { } userId)
        {
            await presence.JoinedAsync(sessionId, userId);
        }

        return new RoomSnapshot(
            await state.SessionAsync(sessionId, Context.ConnectionAborted) ?? (object)session,
            await pins.ListAsync(sessionId, Context.ConnectionAborted),
            new LiveViewersSnapshot(current, peak),
            await state.ActiveFlashSaleAsync(sessionId, Context.ConnectionAborted),
            await recent.GetAsync(session, chatWriter, Context.ConnectionAborted),
            member.ViewerToken,
            await state.ActivePollAsync(sessionId, Context.ConnectionAborted),
            await state.ActiveGiveawayAsync(sessionId, Context.ConnectionAborted),
            await state.ActiveVouchersAsync(sessionId, Context.ConnectionAborted),
            await state.ActiveAuctionAsync(sessionId, Context.ConnectionAborted));
    }

    public Task LeaveSession(string sessionId) => LeaveCoreAsync(Member(), sessionId);

    public async Task SendChat(string sessionId, string text)
    {
        var user = Context.User;
        if (user?.Identity?.IsAuthenticated != true)
        {
            throw new HubException($"{ChatErrors.Unauthorized}: Sign in to chat.");
        }

        // Chat goes to the room one is in: a connection cannot post into rooms it never joined.
        if (sessionId is null || !Member().Sessions.Contains(sessionId))
        {
            throw new HubException($"{HubLimits.NotJoined}: Join the session before chatting in it.");
        }

        var sent = await chat.SendAsync(sessionId, user.FindFirst("sub")!.Value, user.FindFirst("name")?.Value ?? user.FindFirst("sub")!.Value, text, Context.ConnectionAborted, Context.ConnectionId);
        analytics.Chat(sent);
    }

    /// <summary>SPEC §16: a tap on heart, like, fire or clap; at most 10 a second per user, counted per tick, never stored.</summary>
    public async Task SendReaction(string sessionId, string kind)
    {
        var user = Context.User;
        if (user?.Identity?.IsAuthenticated != true)
        {
            throw Refuse(ChatErrors.Unauthorized, "Sign in to react.");
        }

        if (sessionId is null || !Member().Sessions.Contains(sessionId))
        {
            throw Refuse(HubLimits.NotJoined, "Join the session before reacting in it.");
        }

        if (kind is null || !ReactionTally.Kinds.Contains(kind))
        {
            throw Refuse(HubLimits.InvalidReaction, "A reaction is heart, like, fire or clap.");
        }

        if ((await sessions.FindAsync(sessionId, Context.ConnectionAborted))?.Status == LiveStatus.Ended)
        {
            throw Refuse(ChatErrors.SessionEnded, "This live session has ended.");
        }

        if (!await reactions.TapAsync(sessionId, user.FindFirst("sub")!.Value, kind))
        {
            throw Refuse(ChatErrors.RateLimited, $"At most {ReactionTally.PerUserPerSecond} reactions a second.");
        }
    }

    public async Task Heartbeat(string sessionId)
    {
        var member = Member();
        if (sessionId is null || !member.Sessions.Contains(sessionId))
        {
            throw new HubException($"{ChatErrors.SessionNotFound}: Join the session first.");
        }

        await presence.BeatAsync(sessionId, member.ViewerId);
        RecordView(new ViewEvent(ViewId(sessionId), sessionId, member.ViewerId, member.UserId, ViewEventKind.Heartbeat, time.GetUtcNow().ToUnixTimeMilliseconds()));
    }

    /// <summary>SPEC §13: the viewer clicked a product in the room (anonymous viewers too); more than a few a second are ignored.</summary>
    public Task ProductClicked(string sessionId, string productId)
    {
        var member = Member();
        if (sessionId is null || !member.Sessions.Contains(sessionId))
        {
            throw new HubException($"{HubLimits.NotJoined}: Join the session first.");
        }

        if (!HubLimits.IsValidId(productId))
        {
            throw new HubException($"{HubLimits.InvalidProduct}: productId is 1 to 64 letters, digits, '-' or '_'.");
        }

        if (analytics.ProductClicked(member, sessionId, productId) is { } click)
        {
            clicks.Record(click);
        }

        return Task.CompletedTask;
    }

    public Task WatchProduct(string productId)
    {
        if (!HubLimits.IsValidId(productId))
        {
            throw new HubException($"{HubLimits.InvalidProduct}: productId is 1 to 64 letters, digits, '-' or '_'.");
        }

        if (!registry.Watch(Member(), productId))
        {
            throw new HubException($"{HubLimits.TooManyProducts}: One connection may watch at most {HubLimits.MaxWatchedProducts} products; unwatch one first.");
        }

        return Task.CompletedTask;
    }

    public Task UnwatchProduct(string productId)
    {
        if (productId is not null)
        {
            registry.Unwatch(Member(), productId);
        }

        return Task.CompletedTask;
    }

    private async Task LeaveCoreAsync(RoomMember member, string sessionId)
    {
        if (sessionId is null || !member.Sessions.Contains(sessionId))
        {
            return; // never joined (or a made-up id): nothing to leave, nothing to record
        }

        registry.Leave(member, sessionId);
        if (!registry.ViewerStillIn(sessionId, member.ViewerId, member.ConnectionId))
        {
            await presence.LeaveAsync(sessionId, member.ViewerId);
        }

        RecordView(new ViewEvent(ViewId(sessionId), sessionId, member.ViewerId, member.UserId, ViewEventKind.End, time.GetUtcNow().ToUnixTimeMilliseconds()));
    }

    private void RecordView(ViewEvent e)
    {
        views.Record(e);
        analytics.View(e);
    }

    private string ViewId(string sessionId) => $"{Context.ConnectionId}:{sessionId}";

    private HubException Refuse(string code, string detail)
    {
        roomMetrics.HubCallsRefused.Add(1, new KeyValuePair<string, object?>("code", code));
        return new HubException($"{code}: {detail}");
    }

    private RoomMember Member() => registry.Find(Context.ConnectionId) ?? throw new HubException("NOT_CONNECTED: Reconnect and try again.");
}
