using System.Data.Common;
using Dapper;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.LiveRoom;

/// <summary>A viewing: start, heartbeat or end of one viewer's visit to a room.</summary>
internal sealed record ViewEvent(string ViewId, string SessionId, string ViewerId, string? UserId, ViewEventKind Kind, long At);

internal enum ViewEventKind
{
    Start,
    Heartbeat,
    End,
}

/// <summary>
/// Viewing events, written in batches (10,000 viewers heartbeat every 15 s). The queue is bounded: when SQL falls
/// that far behind, new events are dropped and counted (<c>pasar.room.view_events_dropped</c>) rather than held
/// in memory without limit; they are analytics, and the live viewer count does not depend on them.
/// </summary>
internal sealed class ViewWriter(Database database, ILogger<ViewWriter> logger, LiveRoomMetrics metrics, int capacity = ViewWriter.DefaultCapacity)
    : BatchedWriter<ViewEvent>(database, logger, capacity)
{
    public const int DefaultCapacity = 100_000;

    public void Record(ViewEvent e)
    {
        if (!Enqueue(e))
        {
            metrics.ViewEventsDropped.Add(1);
        }
    }

    protected override async Task WriteAsync(DbConnection c, DbTransaction tx, IReadOnlyList<ViewEvent> batch, CancellationToken ct)
    {
        foreach (var group in batch.GroupBy(e => e.Kind))
        {
            var sql = group.Key switch
            {
                ViewEventKind.Start => """
                    INSERT INTO live_views (id, session_id, viewer_id, user_id, started_at, last_seen_at) VALUES (@ViewId, @SessionId, @ViewerId, @UserId, @At, @At)
                    ON CONFLICT DO NOTHING
                    """,
                ViewEventKind.Heartbeat => "UPDATE live_views SET last_seen_at = @At WHERE id = @ViewId AND last_seen_at < @At",
                _ => "UPDATE live_views SET last_seen_at = @At, ended_at = @At WHERE id = @ViewId AND ended_at IS NULL",
            };
            // Only the latest heartbeat of a view in this batch matters.
            var rows = group.Key == ViewEventKind.Heartbeat ? group.GroupBy(e => e.ViewId).Select(g => g.MaxBy(e => e.At)!) : group;
            await c.ExecuteAsync(new CommandDefinition(sql, rows, tx, cancellationToken: ct));
        }
    }
}
