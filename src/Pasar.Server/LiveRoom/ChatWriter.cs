using System.Data.Common;
using Dapper;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.LiveRoom;

/// <summary>Accepted chat messages are written in batches; a clean shutdown drains them.</summary>
internal sealed class ChatWriter(Database database, ILogger<ChatWriter> logger) : BatchedWriter<ChatMessage>(database, logger)
{
    protected override Task WriteAsync(DbConnection c, DbTransaction tx, IReadOnlyList<ChatMessage> batch, CancellationToken ct) =>
        c.ExecuteAsync(new CommandDefinition(
            "INSERT INTO chat_messages (id, session_id, user_id, user_name, text, sent_at, role) VALUES (@Id, @SessionId, @UserId, @UserName, @Text, @at, @Role) ON CONFLICT DO NOTHING",
            batch.Select(m => new { m.Id, m.SessionId, m.UserId, m.UserName, m.Text, at = m.SentAt.ToUnixTimeMilliseconds(), m.Role }), tx, cancellationToken: ct));
}
