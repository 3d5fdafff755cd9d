using System.Collections.Concurrent;
using System.Data.Common;
using System.Text.Json;
using Dapper;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.LiveRoom;

/// <summary>
/// The <c>chat_settings</c> table: a room's slow mode and blocked words, cached per node and dropped when they change
/// (the <c>chatSettings</c> push tells the other nodes).
/// </summary>
internal sealed class ChatSettingsCache(Database database, TimeProvider time)
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

    /// <summary>Stores a room's settings and drops this node's copy.</summary>
    public async Task SaveAsync(string sessionId, ChatSettings settings, CancellationToken ct)
    {
        await database.InTransactionAsync(async (c, tx) => await c.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO chat_settings (session_id, slow_mode_seconds, blocked_words, updated_at) VALUES (@sessionId, @slow, @words, @now)
            ON CONFLICT (session_id) DO UPDATE SET slow_mode_seconds = excluded.slow_mode_seconds, blocked_words = excluded.blocked_words, updated_at = excluded.updated_at
            """,
            new { sessionId, slow = settings.SlowModeSeconds, words = JsonSerializer.Serialize(settings.BlockedWords), now = time.GetUtcNow().ToUnixTimeMilliseconds() },
            tx, cancellationToken: ct)), ct);
        Invalidate(sessionId);
    }

    public static async Task<ChatSettings> LoadAsync(DbConnection c, string sessionId, CancellationToken ct)
    {
        var row = await c.QuerySingleOrDefaultAsync<(long SlowModeSeconds, string BlockedWords)?>(new CommandDefinition(
            "SELECT slow_mode_seconds, blocked_words FROM chat_settings WHERE session_id = @sessionId", new { sessionId }, cancellationToken: ct));
        return row is { } r ? new ChatSettings((int)r.SlowModeSeconds, JsonSerializer.Deserialize<List<string>>(r.BlockedWords) ?? []) : new ChatSettings(0, []);
    }
}
