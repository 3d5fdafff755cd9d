using System.Collections.Concurrent;
using Dapper;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Protocol;
using Microsoft.Extensions.Options;
using Pasar.Server.Live;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Redis;
using Pasar.Server.Platform.Storage;
using StackExchange.Redis;

namespace Pasar.Server.LiveRoom;

/// <summary>
/// Accepts a chat message: validation, the room's blocked words, mutes and the per-user rate limit (one
/// Lua script: atomic across nodes), then hands it to the coalescer (one frame per room per tick) and the
/// batched SQL writer.
/// </summary>
internal sealed class ChatService(
    HotStore store,
    Database database,
    RoomSessions sessions,
    ChatSettingsCache settings,
    SessionModerators moderators,
    ChatCoalescer coalescer,
    ChatWriter writer,
    TimeProvider time,
    IOptions<ChatOptions> options,
    PasarMetrics metrics)
{
    private const string GateScript = """
        if redis.call('EXISTS', KEYS[3]) == 0 then return 'LOAD' end
        if redis.call('EXISTS', KEYS[1]) == 1 then return 'MUTED' end
        if redis.call('SET', KEYS[2], '1', 'NX', 'PX', ARGV[1]) then return 'OK' end
        return 'RATE'
        """;

    public const int MaxLength = 300;

    public async Task<ChatMessage> SendAsync(string sessionId, string userId, string userName, string? text, CancellationToken ct, string? connectionId = null)
    {
        var trimmed = text?.Trim() ?? "";
        if (trimmed.Length is 0 or > MaxLength || trimmed.Any(char.IsControl))
        {
            throw Refuse(ChatErrors.InvalidMessage, $"A message is 1 to {MaxLength} characters of text.");
        }

        var session = await sessions.FindAsync(sessionId, ct);
        if (session is null)
        {
            throw Refuse(ChatErrors.SessionNotFound, "No such live session.");
        }

        if (session.Status == LiveStatus.Ended)
        {
            throw Refuse(ChatErrors.SessionEnded, "This live session has ended.");
        }

        var (room, blocked) = await settings.GetAsync(sessionId, options.Value.BlockedWords, ct);
        if (blocked is not null && blocked.IsMatch(trimmed))
        {
            throw Refuse(ChatErrors.BlockedWord, "Your message contains a word this room does not allow.");
        }

        var role = await moderators.RoleOfAsync(session, userId, ct);
        var windowMs = Math.Max(1000, room.SlowModeSeconds * 1000);
        for (var attempt = 0; attempt < 2; attempt++)
        {
            var verdict = (string?)await store.Database.ScriptEvaluateAsync(GateScript,
                [$"chat:mute:{sessionId}:{userId}", $"chat:rate:{sessionId}:{userId}", $"chat:mutes-loaded:{sessionId}"], [windowMs]);
            switch (verdict)
            {
                case "OK":
                    var message = new ChatMessage(Ids.New(), sessionId, userId, userName, trimmed, DateTimeOffset.FromUnixTimeMilliseconds(time.GetUtcNow().ToUnixTimeMilliseconds()), role);
                    coalescer.Add(message, connectionId);
                    writer.Enqueue(message);
                    metrics.ChatMessages.Add(1);
                    return message;
                case "MUTED":
                    throw Refuse(ChatErrors.Muted, "You are muted in this room.");
                case "RATE":
                    throw Refuse(ChatErrors.RateLimited, room.SlowModeSeconds > 1
                        ? $"Slow mode: one message every {room.SlowModeSeconds} seconds."
                        : "One message per second, please.");
                default:
                    await LoadMutesAsync(sessionId, ct);
                    break;
            }
        }

        throw Refuse(ChatErrors.RateLimited, "Try again in a moment.");
    }

    /// <summary>Rebuilds a room's mutes in the hot store from SQL (first use, or after the hot state was lost).</summary>
    public async Task LoadMutesAsync(string sessionId, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var mutes = await c.QueryAsync<(string UserId, long Until)>(new CommandDefinition(
            "SELECT user_id, until FROM chat_mutes WHERE session_id = @sessionId AND until > @now", new { sessionId, now }, cancellationToken: ct));
        foreach (var (userId, until) in mutes)
        {
            await store.Database.StringSetAsync($"chat:mute:{sessionId}:{userId}", "1", TimeSpan.FromMilliseconds(until - now));
        }

        await store.Database.StringSetAsync($"chat:mutes-loaded:{sessionId}", "1", TimeSpan.FromDays(1));
    }

    public async Task MuteAsync(string sessionId, string userId, DateTimeOffset until, string mutedBy, CancellationToken ct)
    {
        var now = time.GetUtcNow();
        await database.InTransactionAsync(async (c, tx) => await c.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO chat_mutes (session_id, user_id, until, muted_by, created_at) VALUES (@sessionId, @userId, @until, @mutedBy, @now)
            ON CONFLICT (session_id, user_id) DO UPDATE SET until = excluded.until, muted_by = excluded.muted_by, created_at = excluded.created_at
            """,
            new { sessionId, userId, until = until.ToUnixTimeMilliseconds(), mutedBy, now = now.ToUnixTimeMilliseconds() }, tx, cancellationToken: ct)), ct);
        await store.Database.StringSetAsync($"chat:mute:{sessionId}:{userId}", "1", until - now);
    }

    private HubException Refuse(string code, string detail)
    {
        metrics.ChatRejected.Add(1, new KeyValuePair<string, object?>("code", code));
        return new HubException($"{code}: {detail}");
    }
}

/// <summary>
/// Merges a room's accepted messages into one <c>chat</c> frame per tick (100 ms by default): at 1,000
/// messages a second a viewer gets 10 frames, not 1,000. Past the room's display cap the frame carries the
/// tick's sample (<see cref="ChatSampler"/>), and a sender whose message was left out gets it alone, on its
/// own connection: the only per-viewer work.
/// </summary>
internal sealed class ChatCoalescer(RoomBroadcaster broadcaster, ChatSampler sampler, RoomRegistry registry, IOptions<ChatOptions> options, ILogger<ChatCoalescer> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<string, ConcurrentQueue<PendingChat>> _pending = new(StringComparer.Ordinal);

    // Adding and dropping an idle room's queue take this lock, so no message goes into a queue that was just dropped.
    private readonly Lock _gate = new();

    /// <summary>Rooms with a queue here (for tests and bounds).</summary>
    internal int RoomCount => _pending.Count;

    public void Add(ChatMessage message, string? connectionId = null)
    {
        lock (_gate)
        {
            _pending.GetOrAdd(message.SessionId, _ => new()).Enqueue(new PendingChat(message, connectionId));
        }
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(options.Value.CoalesceTick);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                await FlushAsync();
            }
        }
        catch (OperationCanceledException)
        {
        }

        await FlushAsync();
    }

    private async Task FlushAsync()
    {
        foreach (var (sessionId, queue) in _pending)
        {
            if (queue.IsEmpty)
            {
                // Nothing since the last tick: the room is quiet (or ended), its queue goes until it chats again.
                lock (_gate)
                {
                    if (queue.IsEmpty)
                    {
                        _pending.TryRemove(new KeyValuePair<string, ConcurrentQueue<PendingChat>>(sessionId, queue));
                    }
                }

                continue;
            }

            var batch = new List<PendingChat>();
            while (queue.TryDequeue(out var m))
            {
                batch.Add(m);
            }

            try
            {
                var (shown, ownOnly) = await sampler.SampleAsync(sessionId, batch);
                if (shown.Count > 0)
                {
                    await broadcaster.PublishAsync(RoomTarget.Session, sessionId, "chat", shown.ToArray());
                }

                foreach (var own in ownOnly.GroupBy(p => p.ConnectionId))
                {
                    if (own.Key is not null && registry.Find(own.Key) is { } sender)
                    {
                        sender.Write(new SerializedHubMessage(new InvocationMessage("chat", [own.Select(p => p.Message).ToArray()])));
                    }
                }
            }
            catch (Exception ex) when (StoreFaults.IsUnavailable(ex))
            {
                // Publishing goes through Redis/Garnet pub/sub: an outage is one short line a tick, not a stack trace.
                logger.LogWarning("Chat frame for {Session} could not be sent: {Error}", sessionId, StoreFaults.Describe(ex));
            }
            catch (Exception ex)
            {
                logger.LogError(ex, "Chat frame for {Session} could not be sent", sessionId);
            }
        }
    }
}
