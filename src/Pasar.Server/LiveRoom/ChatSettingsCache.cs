using System.Collections.Concurrent;
using System.Data.Common;
using System.Text.Json;
using Dapper;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.LiveRoom;

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
