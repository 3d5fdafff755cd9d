using Dapper;
using Pasar.Server.Platform.Http;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.LiveRoom;

internal enum ChatRemoval
{
    Removed,
    NotFound,

    /// <summary>The seller's own message, and the remover may not remove the seller's words (a moderator).</summary>
    SellersMessage,
}

/// <summary>
/// Reads and removals of stored chat (<c>chat_messages</c>; <see cref="ChatWriter"/> does the batched inserts). Both
/// flush the writer first, so a message accepted a moment ago is in SQL before it is listed or removed.
/// </summary>
internal sealed class ChatMessages(Database db, ChatWriter writer, RoomBroadcaster broadcaster, TimeProvider time)
{
    /// <summary>One page of a room's history, newest first, without removed messages.</summary>
    public async Task<Page<ChatMessage>> PageAsync(RoomSession session, PageRequest page, CancellationToken ct)
    {
        await writer.FlushAsync();
        await using var c = await db.OpenAsync(ct);
        var rows = await ChatHistory.QueryAsync(c, session.Id, page.BeforeTime, page.BeforeId, page.FetchSize, ct);
        return page.ToPage(rows, r => r.SentAt, r => r.Id, r => r.ToMessage(session.SellerId));
    }

    /// <summary>Removes a message for everyone (marks it, and pushes <c>chatDeleted</c> to the room).</summary>
    public async Task<ChatRemoval> RemoveAsync(RoomSession session, string messageId, bool mayRemoveSellers, CancellationToken ct)
    {
        await writer.FlushAsync();
        var (id, seller) = (session.Id, session.SellerId);
        var removed = await db.InTransactionAsync(async (c, tx) => await c.ExecuteAsync(new CommandDefinition(
            "UPDATE chat_messages SET deleted_at = @now WHERE id = @messageId AND session_id = @id AND deleted_at IS NULL AND (@mayRemoveSellers OR user_id <> @seller)",
            new { now = time.GetUtcNow().ToUnixTimeMilliseconds(), messageId, id, mayRemoveSellers, seller }, tx, cancellationToken: ct)), ct);
        if (removed == 0)
        {
            if (mayRemoveSellers)
            {
                return ChatRemoval.NotFound;
            }

            await using var c = await db.OpenAsync(ct);
            return await c.ExecuteScalarAsync<long>(new CommandDefinition(
                "SELECT COUNT(*) FROM chat_messages WHERE id = @messageId AND session_id = @id AND user_id = @seller AND deleted_at IS NULL",
                new { messageId, id, seller }, cancellationToken: ct)) > 0 ? ChatRemoval.SellersMessage : ChatRemoval.NotFound;
        }

        await broadcaster.PublishAsync(RoomTarget.Session, id, "chatDeleted", new ChatDeleted(id, messageId));
        return ChatRemoval.Removed;
    }
}
