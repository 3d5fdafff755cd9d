using System.Data.Common;
using System.Globalization;
using System.Text.Json;

namespace Pasar.Server.Analytics;

/// <summary>What a viewer did in a live show. The wire names are the <c>kind</c> column in ClickHouse.</summary>
internal enum AnalyticsKind
{
    ViewStart,
    Heartbeat,
    ViewEnd,
    Chat,
    PinShown,
    ProductClick,
    Purchase,
    Share,
}

/// <summary>
/// One viewing event. <paramref name="EventId"/> is unique per event and stays the same across every retry, so
/// ClickHouse queries that count distinct ids count it once however often a batch was sent.
/// <paramref name="ViewerId"/> is the user id of a signed-in viewer or the browser's anonymous id.
/// A purchase made in a flash sale carries its <paramref name="FlashSaleId"/>.
/// </summary>
internal sealed record AnalyticsEvent(
    string EventId,
    AnalyticsKind Kind,
    string SessionId,
    string SellerId,
    string ViewerId,
    string? UserId,
    long At,
    string? ViewId = null,
    string? ProductId = null,
    long AmountMinor = 0,
    string? Currency = null,
    string? FlashSaleId = null)
{
    public static string KindName(AnalyticsKind kind) => kind switch
    {
        AnalyticsKind.ViewStart => "view_start",
        AnalyticsKind.Heartbeat => "heartbeat",
        AnalyticsKind.ViewEnd => "view_end",
        AnalyticsKind.Chat => "chat",
        AnalyticsKind.PinShown => "pin_shown",
        AnalyticsKind.ProductClick => "product_click",
        AnalyticsKind.Purchase => "purchase",
        _ => "share",
    };

    /// <summary>The row as ClickHouse's <c>JSONEachRow</c> takes it (every column given: 18.16 fills omitted ones with zeros, not defaults).</summary>
    public string ToJsonLine() => JsonSerializer.Serialize(new Dictionary<string, object>
    {
        ["event_id"] = EventId,
        ["kind"] = KindName(Kind),
        ["session_id"] = SessionId,
        ["seller_id"] = SellerId,
        ["viewer_id"] = ViewerId,
        ["user_id"] = UserId ?? "",
        ["view_id"] = ViewId ?? "",
        ["product_id"] = ProductId ?? "",
        ["flash_sale_id"] = FlashSaleId ?? "",
        ["amount_minor"] = AmountMinor,
        ["currency"] = Currency ?? "",
        ["at_ms"] = At,
        ["event_date"] = DateTimeOffset.FromUnixTimeMilliseconds(At).UtcDateTime.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture),
    });
}

/// <summary>
/// How other modules hand viewing events to analytics. With ClickHouse configured they are spooled in SQL and sent
/// in batches; without it (the embedded default) both methods do nothing: the live room's own SQL tables are the
/// analytics then.
/// </summary>
internal interface IAnalyticsRecorder
{
    /// <summary>True when <c>Pasar:Analytics:ClickHouse:Url</c> is set.</summary>
    bool Enabled { get; }

    /// <summary>Queues an event for the spool (committed within a tick); counted as dropped when the spool is full.</summary>
    void Record(AnalyticsEvent e);

    /// <summary>Spools an event in the caller's transaction, so it exists exactly when the caller's effect does.</summary>
    Task RecordAsync(DbConnection connection, DbTransaction transaction, AnalyticsEvent e, CancellationToken ct);
}

/// <summary>A session's figures from the analytics store (SPEC §6.3), in the units of the stats route.</summary>
internal sealed record SessionFigures(
    long UniqueViewers, long TotalViews, double AvgWatchSeconds, long ChatMessages, long Purchases, long GmvMinor, long Buyers, long ProductClicks);

/// <summary>Figures of a session answered by ClickHouse; only used when <see cref="Enabled"/>.</summary>
internal interface ISessionAnalytics
{
    bool Enabled { get; }

    Task<SessionFigures> SessionAsync(string sellerId, string sessionId, CancellationToken ct);

    /// <summary>Many sessions of one seller in one round of grouped queries (the seller dashboard); a session without events has zeros.</summary>
    Task<IReadOnlyDictionary<string, SessionFigures>> SessionsAsync(string sellerId, IReadOnlyCollection<string> sessionIds, CancellationToken ct);
}
