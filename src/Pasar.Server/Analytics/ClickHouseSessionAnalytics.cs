namespace Pasar.Server.Analytics;

/// <summary>
/// A session's figures from ClickHouse. Every count is of distinct ids (event, view, viewer, buyer), so an event
/// stored twice after a retried batch counts once; GMV sums one amount per purchase event. Watch time per view
/// is its first end (or else its last start or heartbeat) minus its first start, as the SQL path has it.
/// </summary>
internal sealed class ClickHouseSessionAnalytics(ClickHouseHttp clickHouse) : ISessionAnalytics
{
    public bool Enabled => true;

    public async Task<SessionFigures> SessionAsync(string sellerId, string sessionId, CancellationToken ct)
    {
        var table = $"{clickHouse.Database}.{ClickHouseSchema.EventsTable}";
        var where = $"seller_id = {ClickHouseHttp.Quote(sellerId)} AND session_id = {ClickHouseHttp.Quote(sessionId)}";
        var counts = (await clickHouse.QueryAsync($"""
            SELECT
                uniqExactIf(viewer_id, kind = 'view_start') AS unique_viewers,
                uniqExactIf(view_id, kind = 'view_start') AS total_views,
                uniqExactIf(event_id, kind = 'chat') AS chats,
                uniqExactIf(event_id, kind = 'purchase') AS purchases,
                uniqExactIf(user_id, kind = 'purchase') AS buyers,
                uniqExactIf(event_id, kind = 'product_click') AS product_clicks
            FROM {table} WHERE {where}
            """, ct))[0];
        var gmv = (await clickHouse.QueryAsync($"""
            SELECT sum(amount) AS gmv FROM (
                SELECT event_id, any(amount_minor) AS amount FROM {table} WHERE {where} AND kind = 'purchase' GROUP BY event_id)
            """, ct))[0];
        var watch = (await clickHouse.QueryAsync($"""
            SELECT avg(watched) AS avg_ms FROM (
                SELECT view_id,
                    if(countIf(kind = 'view_end') > 0, minIf(at_ms, kind = 'view_end'), maxIf(at_ms, kind != 'view_end')) - minIf(at_ms, kind = 'view_start') AS watched
                FROM {table} WHERE {where} AND kind IN ('view_start', 'heartbeat', 'view_end')
                GROUP BY view_id HAVING countIf(kind = 'view_start') > 0)
            """, ct))[0];
        var avgMs = watch.GetProperty("avg_ms").ValueKind == System.Text.Json.JsonValueKind.Number || watch.GetProperty("avg_ms").ValueKind == System.Text.Json.JsonValueKind.String
            ? ClickHouseHttp.Number(watch, "avg_ms")
            : 0;
        if (double.IsNaN(avgMs))
        {
            avgMs = 0;
        }

        return new SessionFigures(
            ClickHouseHttp.Integer(counts, "unique_viewers"),
            ClickHouseHttp.Integer(counts, "total_views"),
            Math.Round(avgMs / 1000.0, 1),
            ClickHouseHttp.Integer(counts, "chats"),
            ClickHouseHttp.Integer(counts, "purchases"),
            ClickHouseHttp.Integer(gmv, "gmv"),
            ClickHouseHttp.Integer(counts, "buyers"),
            ClickHouseHttp.Integer(counts, "product_clicks"));
    }
}
