using System.Collections.Concurrent;
using System.Data.Common;
using System.Text.Json;
using Dapper;
using Pasar.Server.Live;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.LiveRoom;

/// <summary>Accepted chat messages are written in batches; a clean shutdown drains them.</summary>
internal sealed class ChatWriter(Database database, ILogger<ChatWriter> logger) : BatchedWriter<ChatMessage>(database, logger)
{
    protected override Task WriteAsync(DbConnection c, DbTransaction tx, IReadOnlyList<ChatMessage> batch, CancellationToken ct) =>
        c.ExecuteAsync(new CommandDefinition(
            "INSERT INTO chat_messages (id, session_id, user_id, user_name, text, sent_at) VALUES (@Id, @SessionId, @UserId, @UserName, @Text, @at) ON CONFLICT DO NOTHING",
            batch.Select(m => new { m.Id, m.SessionId, m.UserId, m.UserName, m.Text, at = m.SentAt.ToUnixTimeMilliseconds() }), tx, cancellationToken: ct));
}

/// <summary>
/// The last 50 messages of each room this node serves, fed by every chat event, local or remote. A room's ring
/// lives while the room has members here: it goes when the last one leaves or the session ends, and is loaded
/// from SQL again on the next join.
/// </summary>
internal sealed class RecentChat
{
    public const int Size = 50;
    private readonly ConcurrentDictionary<string, LinkedList<ChatMessage>> _rooms = new(StringComparer.Ordinal);
    private readonly Database _database;
    private readonly RoomRegistry _registry;

    public RecentChat(Database database, RoomRegistry registry)
    {
        _database = database;
        _registry = registry;
        registry.SessionEmptied += Forget;
    }

    /// <summary>Rooms whose last messages are held (for tests and bounds).</summary>
    internal int RoomCount => _rooms.Count;

    public void Forget(string sessionId) => _rooms.TryRemove(sessionId, out _);

    public void Observe(RoomTarget target, string id, string method, object payload)
    {
        if (target == RoomTarget.Session && payload is SessionStatusChanged { Status: LiveStatus.Ended })
        {
            Forget(id);
            return;
        }

        if (target != RoomTarget.Session || !_rooms.TryGetValue(id, out var ring))
        {
            return;
        }

        lock (ring)
        {
            if (payload is ChatMessage[] messages)
            {
                foreach (var m in messages)
                {
                    ring.AddLast(m);
                    if (ring.Count > Size)
                    {
                        ring.RemoveFirst();
                    }
                }
            }
            else if (payload is ChatDeleted deleted)
            {
                var node = ring.First;
                while (node is not null && node.Value.Id != deleted.MessageId)
                {
                    node = node.Next;
                }

                if (node is not null)
                {
                    ring.Remove(node);
                }
            }
        }
    }

    public async Task<IReadOnlyList<ChatMessage>> GetAsync(string sessionId, ChatWriter writer, CancellationToken ct)
    {
        if (!_rooms.TryGetValue(sessionId, out var ring))
        {
            await writer.FlushAsync();
            await using var c = await _database.OpenAsync(ct);
            var rows = await ChatHistory.QueryAsync(c, sessionId, null, null, Size, ct);
            var loaded = new LinkedList<ChatMessage>(rows.Select(r => r.ToMessage()).Reverse());
            ring = _rooms.GetOrAdd(sessionId, loaded);
            if (!_registry.HasMembers(sessionId))
            {
                Forget(sessionId); // the joiner left while this loaded: keep nothing for an empty room
            }
        }

        lock (ring)
        {
            return ring.ToList();
        }
    }
}

/// <summary>Room chat settings (slow mode, blocked words) cached per node, dropped when the owner changes them.</summary>
internal sealed class ChatSettingsCache(Database database)
{
    private readonly ConcurrentDictionary<string, (ChatSettings Settings, System.Text.RegularExpressions.Regex? Blocked)> _cache = new(StringComparer.Ordinal);

    public async Task<(ChatSettings Settings, System.Text.RegularExpressions.Regex? Blocked)> GetAsync(string sessionId, IReadOnlyList<string> globalWords, CancellationToken ct)
    {
        if (_cache.TryGetValue(sessionId, out var cached))
        {
            return cached;
        }

        await using var c = await database.OpenAsync(ct);
        var settings = await LoadAsync(c, sessionId, ct);
        var words = settings.BlockedWords.Concat(globalWords).Where(w => w.Length > 0).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        var regex = words.Count == 0 ? null : new System.Text.RegularExpressions.Regex(
            @"(?<![\p{L}\p{N}])(" + string.Join("|", words.Select(System.Text.RegularExpressions.Regex.Escape)) + @")(?![\p{L}\p{N}])",
            System.Text.RegularExpressions.RegexOptions.IgnoreCase | System.Text.RegularExpressions.RegexOptions.CultureInvariant);
        var entry = (settings, regex);
        _cache[sessionId] = entry;
        return entry;
    }

    public void Invalidate(string sessionId) => _cache.TryRemove(sessionId, out _);

    public static async Task<ChatSettings> LoadAsync(DbConnection c, string sessionId, CancellationToken ct)
    {
        var row = await c.QuerySingleOrDefaultAsync<(long SlowModeSeconds, string BlockedWords)?>(new CommandDefinition(
            "SELECT slow_mode_seconds, blocked_words FROM chat_settings WHERE session_id = @sessionId", new { sessionId }, cancellationToken: ct));
        return row is { } r ? new ChatSettings((int)r.SlowModeSeconds, JsonSerializer.Deserialize<List<string>>(r.BlockedWords) ?? []) : new ChatSettings(0, []);
    }
}

internal static class ChatHistory
{
    internal sealed class Row
    {
        public string Id { get; init; } = "";
        public string SessionId { get; init; } = "";
        public string UserId { get; init; } = "";
        public string UserName { get; init; } = "";
        public string Text { get; init; } = "";
        public long SentAt { get; init; }

        public ChatMessage ToMessage() => new(Id, SessionId, UserId, UserName, Text, DateTimeOffset.FromUnixTimeMilliseconds(SentAt));
    }

    public static async Task<IReadOnlyList<Row>> QueryAsync(DbConnection c, string sessionId, long? beforeTime, string? beforeId, int fetch, CancellationToken ct)
    {
        var cursor = beforeTime is null ? "" : "AND (sent_at < @beforeTime OR (sent_at = @beforeTime AND id < @beforeId))";
        return (await c.QueryAsync<Row>(new CommandDefinition(
            $"""
            SELECT id AS Id, session_id AS SessionId, user_id AS UserId, user_name AS UserName, text AS Text, sent_at AS SentAt
            FROM chat_messages WHERE session_id = @sessionId AND deleted_at IS NULL {cursor}
            ORDER BY sent_at DESC, id DESC LIMIT @fetch
            """, new { sessionId, beforeTime, beforeId, fetch }, cancellationToken: ct))).AsList();
    }
}
