using System.Data.Common;
using Dapper;

namespace Pasar.Server.LiveRoom;

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
        public string? Role { get; init; }

        /// <summary>Messages stored before roles were (script 0033) are the seller's or a viewer's.</summary>
        public ChatMessage ToMessage(string sellerId) => new(Id, SessionId, UserId, UserName, Text, DateTimeOffset.FromUnixTimeMilliseconds(SentAt),
            Role ?? (UserId == sellerId ? ChatRoles.Seller : ChatRoles.Viewer));
    }

    public static async Task<IReadOnlyList<Row>> QueryAsync(DbConnection c, string sessionId, long? beforeTime, string? beforeId, int fetch, CancellationToken ct)
    {
        var cursor = beforeTime is null ? "" : "AND (sent_at < @beforeTime OR (sent_at = @beforeTime AND id < @beforeId))";
        return (await c.QueryAsync<Row>(new CommandDefinition(
            $"""
            SELECT id AS Id, session_id AS SessionId, user_id AS UserId, user_name AS UserName, text AS Text, sent_at AS SentAt, role AS Role
            FROM chat_messages WHERE session_id = @sessionId AND deleted_at IS NULL {cursor}
            ORDER BY sent_at DESC, id DESC LIMIT @fetch
            """, new { sessionId, beforeTime, beforeId, fetch }, cancellationToken: ct))).AsList();
    }
}
