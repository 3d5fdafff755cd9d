using System.Data.Common;
using Dapper;
using Pasar.Server.Platform.Http;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Social;

/// <summary>The <c>shares</c> and <c>share_clicks</c> tables: links, counted clicks, and referral results.</summary>
internal sealed class ShareStore(Database db, TimeProvider time)
{
    public async Task AddAsync(DbConnection c, DbTransaction tx, string code, string userId, string productId, string platform, CancellationToken ct) =>
        await c.ExecuteAsync(new CommandDefinition(
            "INSERT INTO shares (tracking_code, user_id, product_id, platform, created_at) VALUES (@code, @userId, @productId, @platform, @at)",
            new { code, userId, productId, platform, at = time.GetUtcNow().ToUnixTimeMilliseconds() }, tx, cancellationToken: ct));

    /// <summary>A user's links with their counts, newest first, one page.</summary>
    public Task<Page<ShareStats>> PageAsync(string userId, PageRequest page, CancellationToken ct) =>
        db.QueryPageAsync<Row, ShareStats>(page,
            $"""
            SELECT tracking_code AS TrackingCode, product_id AS ProductId, platform AS Platform, clicks AS Clicks, purchases AS Purchases,
                   coins_earned AS CoinsEarned, created_at AS CreatedAt
            FROM shares WHERE user_id = @userId AND {page.Condition("created_at", "tracking_code")}
            ORDER BY created_at DESC, tracking_code DESC LIMIT @fetch
            """,
            new { userId }, r => r.CreatedAt, r => r.TrackingCode,
            r => new ShareStats(r.TrackingCode, r.ProductId, r.Platform, r.Clicks, r.Purchases, r.CoinsEarned, DateTimeOffset.FromUnixTimeMilliseconds(r.CreatedAt)), ct);

    /// <summary>The link's product (null for an unknown code), and whether any of the visitor's ids was counted since <paramref name="cutoff"/>.</summary>
    public async Task<(string? ProductId, bool Seen)> FindForVisitorAsync(string trackingCode, IReadOnlyList<string> visitors, long cutoff, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var productId = await c.ExecuteScalarAsync<string?>(new CommandDefinition(
            "SELECT product_id FROM shares WHERE tracking_code = @trackingCode", new { trackingCode }, cancellationToken: ct));
        var seen = productId is not null && await c.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(*) FROM share_clicks WHERE tracking_code = @trackingCode AND (visitor_id = @cookie OR visitor_id = @fingerprint) AND counted_at >= @cutoff",
            new { trackingCode, cookie = visitors[0], fingerprint = visitors[1], cutoff }, cancellationToken: ct)) > 0;
        return (productId, seen);
    }

    /// <summary>
    /// Records the click at <paramref name="now"/>; when <paramref name="mayCount"/>, it counts if every one of the
    /// visitor's ids is new to this code or was last counted before <paramref name="cutoff"/>. The upsert decides, so
    /// two racing clicks count once.
    /// </summary>
    public Task RecordClickAsync(string trackingCode, IReadOnlyList<string> visitors, bool mayCount, long now, long cutoff, CancellationToken ct) =>
        db.InTransactionAsync(async (c, tx) =>
        {
            var counted = mayCount;
            if (mayCount)
            {
                foreach (var visitor in visitors)
                {
                    counted &= await c.QuerySingleOrDefaultAsync<long?>(new CommandDefinition(
                        """
                        INSERT INTO share_clicks (tracking_code, visitor_id, counted_at) VALUES (@trackingCode, @visitor, @now)
                        ON CONFLICT (tracking_code, visitor_id) DO UPDATE SET counted_at = excluded.counted_at WHERE share_clicks.counted_at < @cutoff
                        RETURNING counted_at
                        """,
                        new { trackingCode, visitor, now, cutoff }, tx, cancellationToken: ct)) is not null;
                }
            }

            await c.ExecuteAsync(new CommandDefinition(
                "UPDATE shares SET clicks = clicks + @add, last_clicked_at = @now WHERE tracking_code = @trackingCode",
                new { add = counted ? 1 : 0, now, trackingCode }, tx, cancellationToken: ct));
            return true;
        }, ct);

    /// <summary>Who shared the link, for which product, and when it was last clicked (in the caller's transaction).</summary>
    public static Task<(string UserId, string ProductId, long? LastClickedAt)?> FindAsync(DbConnection c, DbTransaction tx, string trackingCode, CancellationToken ct) =>
        c.QuerySingleOrDefaultAsync<(string UserId, string ProductId, long? LastClickedAt)?>(new CommandDefinition(
            "SELECT user_id, product_id, last_clicked_at FROM shares WHERE tracking_code = @trackingCode", new { trackingCode }, tx, cancellationToken: ct));

    public static Task AddPurchaseAsync(DbConnection c, DbTransaction tx, string trackingCode, long coins, CancellationToken ct) =>
        c.ExecuteAsync(new CommandDefinition(
            "UPDATE shares SET purchases = purchases + 1, coins_earned = coins_earned + @coins WHERE tracking_code = @trackingCode",
            new { coins, trackingCode }, tx, cancellationToken: ct));

    private sealed class Row
    {
        public string TrackingCode { get; init; } = "";
        public string ProductId { get; init; } = "";
        public string Platform { get; init; } = "";
        public long Clicks { get; init; }
        public long Purchases { get; init; }
        public long CoinsEarned { get; init; }
        public long CreatedAt { get; init; }
    }
}
