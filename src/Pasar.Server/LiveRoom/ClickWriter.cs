using System.Data.Common;
using Dapper;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.LiveRoom;

/// <summary>A counted product click of a viewer in a room (SPEC §13).</summary>
internal sealed record ProductClick(string Id, string SessionId, string ViewerId, string? UserId, string ProductId, long At)
{
    /// <summary>The click's event id in ClickHouse, the same for the live feed and the backfill, so it counts once.</summary>
    public static string EventId(string id) => "click:" + id;
}

/// <summary>
/// Product clicks, written in batches like views: a burst of a whole room clicking the pinned product is one
/// insert. Bounded like <see cref="ViewWriter"/>: when SQL falls that far behind, clicks are dropped and counted.
/// </summary>
internal sealed class ClickWriter(Database database, ILogger<ClickWriter> logger, LiveRoomMetrics metrics)
    : BatchedWriter<ProductClick>(database, logger, ViewWriter.DefaultCapacity)
{
    public void Record(ProductClick click)
    {
        if (!Enqueue(click))
        {
            metrics.ViewEventsDropped.Add(1, new KeyValuePair<string, object?>("kind", "product_click"));
        }
    }

    protected override Task WriteAsync(DbConnection c, DbTransaction tx, IReadOnlyList<ProductClick> batch, CancellationToken ct) =>
        c.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO live_product_clicks (id, session_id, viewer_id, user_id, product_id, at) VALUES (@Id, @SessionId, @ViewerId, @UserId, @ProductId, @At)
            ON CONFLICT DO NOTHING
            """, batch, tx, cancellationToken: ct));
}
