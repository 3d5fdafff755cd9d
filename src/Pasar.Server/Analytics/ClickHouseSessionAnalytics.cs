using System.Text.Json;

namespace Pasar.Server.Analytics;

/// <summary>
/// Sessions' figures from ClickHouse. Every count is of distinct ids (event, view, viewer, buyer), so an event
/// stored twice after a retried batch counts once; GMV sums one amount per purchase event. Watch time per view
/// is its first end (or else its last start or heartbeat) minus its first start, as the SQL path has it, read from
/// <c>view_spans</c> (one row per view) rather than from every heartbeat. Many
/// sessions are answered by the same three queries grouped by session, so a dashboard of a thousand shows costs
/// three round trips, not three thousand.
/// </summary>
internal sealed class ClickHouseSessionAnalytics(ClickHouseHttp clickHouse) : ISessionAnalytics
{
    /// <summary>Sessions per round of queries, which keeps the <c>IN (…)</c> list of a query text short.</summary>
    private const int SessionsPerQuery = 200;

    public bool Enabled => true;

    public async Task<SessionFigures> SessionAsync(string sellerId, string sessionId, CancellationToken ct) =>
        (await SessionsAsync(sellerId, [sessionId], ct))[sessionId];

    public async Task<IReadOnlyDictionary<string, SessionFigures>> SessionsAsync(string sellerId, IReadOnlyCollection<string> sessionIds, CancellationToken ct)
    {
        var figures = new Dictionary<string, SessionFigures>(sessionIds.Count);
        foreach (var chunk in sessionIds.Distinct().Chunk(SessionsPerQuery))
        {
            await QueryAsync(sellerId, chunk, figures, ct);
        }

        return figures;
    }

    private async Task QueryAsync(string sellerId, string[] sessionIds, Dictionary<string, SessionFigures> figures, CancellationToken ct)
    {
        var table = $"{clickHouse.Database}.{ClickHouseSchema.EventsTable}";
        var where = $"seller_id = {ClickHouseHttp.Quote(sellerId)} AND session_id IN ({string.Join(", ", sessionIds.Select(ClickHouseHttp.Quote))})";
        var counts = BySession(await clickHouse.QueryAsync($"""
            SELECT session_id,
                uniqExactIf(viewer_id, kind = 'view_start') AS unique_viewers,
                uniqExactIf(view_id, kind = 'view_start') AS total_views,
                uniqExactIf(event_id, kind = 'chat') AS chats,
                uniqExactIf(event_id, kind = 'purchase') AS purchases,
                uniqExactIf(user_id, kind = 'purchase') AS buyers,
                uniqExactIf(event_id, kind = 'product_click') AS product_clicks
            FROM {table} WHERE {where} AND kind IN ('view_start', 'chat', 'purchase', 'product_click') GROUP BY session_id
            """, ct));
        var gmv = BySession(await clickHouse.QueryAsync($"""
            SELECT session_id, sum(amount) AS gmv FROM (
                SELECT session_id, event_id, any(amount_minor) AS amount FROM {table} WHERE {where} AND kind = 'purchase' GROUP BY session_id, event_id)
            GROUP BY session_id
            """, ct));
        var watch = BySession(await clickHouse.QueryAsync($"""
            SELECT session_id, avg(watched) AS avg_ms FROM (
                SELECT session_id, view_id, if(maxMerge(has_end), minIfMerge(ended), maxMerge(last)) - minIfMerge(started) AS watched
                FROM {clickHouse.Database}.{ClickHouseSchema.ViewSpansTable} WHERE {where}
                GROUP BY session_id, view_id HAVING maxMerge(has_start))
            GROUP BY session_id
            """, ct));
        foreach (var id in sessionIds)
        {
            var avgMs = watch.TryGetValue(id, out var w) && w.GetProperty("avg_ms").ValueKind is JsonValueKind.Number or JsonValueKind.String
                ? ClickHouseHttp.Number(w, "avg_ms")
                : 0;
            if (double.IsNaN(avgMs))
            {
                avgMs = 0;
            }

            figures[id] = counts.TryGetValue(id, out var c)
                ? new SessionFigures(
                    ClickHouseHttp.Integer(c, "unique_viewers"),
                    ClickHouseHttp.Integer(c, "total_views"),
                    Math.Round(avgMs / 1000.0, 1),
                    ClickHouseHttp.Integer(c, "chats"),
                    ClickHouseHttp.Integer(c, "purchases"),
                    gmv.TryGetValue(id, out var g) ? ClickHouseHttp.Integer(g, "gmv") : 0,
                    ClickHouseHttp.Integer(c, "buyers"),
                    ClickHouseHttp.Integer(c, "product_clicks"))
                : new SessionFigures(0, 0, 0, 0, 0, 0, 0, 0);
        }
    }

    private static Dictionary<string, JsonElement> BySession(IReadOnlyList<JsonElement> rows) =>
        rows.ToDictionary(r => r.GetProperty("session_id").GetString()!);
}
