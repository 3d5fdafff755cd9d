using System.Globalization;
using System.Security.Claims;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Pasar.Server.Analytics;
using Pasar.Server.Live;
using Pasar.Server.Platform.Auth;
using Pasar.Server.Platform.Http;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.LiveRoom;

/// <summary>One show in the seller's dashboard.</summary>
internal sealed record ShowAnalytics(
    string SessionId, string Title, string Status, DateTimeOffset CreatedAt, DateTimeOffset? StartedAt,
    long GmvMinor, long Orders, long UniqueViewers, long PeakViewers, double AvgWatchSeconds,
    long ProductClicks, double ClickThroughRate, double ConversionRate, long ChatMessages, IReadOnlyList<ViewerSample> Viewers,
    long VouchersClaimed = 0, long VouchersRedeemed = 0);

/// <summary>All shows of the period together; unique viewers are summed over shows (one person in two shows counts twice).</summary>
internal sealed record SellerTotals(
    long Shows, long GmvMinor, long Orders, long UniqueViewers, long PeakViewers, double AvgWatchSeconds,
    long ProductClicks, double ClickThroughRate, double ConversionRate, long ChatMessages, long VouchersClaimed = 0, long VouchersRedeemed = 0);

internal sealed record SellerAnalyticsReport(DateTimeOffset From, DateTimeOffset To, SellerTotals Total, IReadOnlyList<ShowAnalytics> Shows);

/// <summary>
/// <c>GET /api/sellers/me/analytics?from=&amp;to=</c> (SPEC §13): the signed-in seller's shows created in
/// [from, to), newest first, with their figures from ClickHouse when configured, else from SQL (the same numbers
/// for the same events, product clicks included). Peak and the viewers
/// series are the room's own samples either way.
/// </summary>
internal static class SellerAnalytics
{
    public const int MaxShows = 1_000;
    private static readonly TimeSpan DefaultPeriod = TimeSpan.FromDays(30);
    private static readonly TimeSpan MaxPeriod = TimeSpan.FromDays(366);

    public static void MapSellerAnalytics(this IEndpointRouteBuilder app) =>
        app.MapGet("/api/sellers/me/analytics", Get).WithTags("Live room").RequireAuthorization(Policies.User)
            .WithSummary("Your shows of a period with GMV, orders, unique viewers, peak, watch time, click-through, conversion and viewers over time");

    internal static async Task<Results<Ok<SellerAnalyticsReport>, ValidationProblem>> Get(
        [FromQuery] string? from, [FromQuery] string? to, ClaimsPrincipal user, LiveSessionStore sessions, ISessionAnalytics analytics,
        ViewWriter views, ClickWriter clicks, ChatWriter chat, Database db, TimeProvider time, IEnumerable<ISessionVoucherFigures> voucherFigures,
        ILoggerFactory logs, CancellationToken ct)
    {
        var v = new RequestValidator();
        var end = Parse(to, "to", v) ?? time.GetUtcNow();
        var start = Parse(from, "from", v) ?? end - DefaultPeriod;
        if (v.IsValid && (start >= end || end - start > MaxPeriod))
        {
            v.Add("from", "from must be before to, at most 366 days apart.");
        }

        if (!v.IsValid)
        {
            return ApiProblem.Validation(v.Errors);
        }

        var sellerId = user.UserId();
        var shows = await ShowsAsync(sessions, sellerId, start, end, ct);
        await Task.WhenAll(views.FlushAsync(), clicks.FlushAsync(), chat.FlushAsync());
        var rows = new List<ShowAnalytics>(shows.Count);
        long buyers = 0;
        var ids = shows.Select(s => s.Id).ToList();
        var figures = await RoomAnalytics.FiguresAsync(sellerId, ids, analytics, db, logs, ct);
        var vouchers = await RoomAnalytics.VouchersAsync(voucherFigures, ids, ct);
        await using var c = await db.OpenAsync(ct);
        foreach (var show in shows)
        {
            var f = figures[show.Id];
            var peak = await c.ExecuteScalarAsync<long?>(new CommandDefinition(
                "SELECT peak_viewers FROM live_room_stats WHERE session_id = @id", new { id = show.Id }, cancellationToken: ct)) ?? 0;
            var series = (await c.QueryAsync<(long At, long Viewers)>(new CommandDefinition(
                "SELECT at, viewers FROM live_viewer_samples WHERE session_id = @id ORDER BY at", new { id = show.Id }, cancellationToken: ct)))
                .Select(s => new ViewerSample(DateTimeOffset.FromUnixTimeMilliseconds(s.At), s.Viewers)).ToList();
            buyers += f.Buyers;
            rows.Add(new ShowAnalytics(
                show.Id, show.Title, show.Status, DateTimeOffset.FromUnixTimeMilliseconds(show.CreatedAt),
                show.StartedAt is { } s ? DateTimeOffset.FromUnixTimeMilliseconds(s) : null,
                f.GmvMinor, f.Purchases, f.UniqueViewers, peak, f.AvgWatchSeconds,
                f.ProductClicks, Ratio(f.ProductClicks, f.UniqueViewers), Ratio(f.Buyers, f.UniqueViewers), f.ChatMessages, series,
                vouchers.GetValueOrDefault(show.Id)?.Claimed ?? 0, vouchers.GetValueOrDefault(show.Id)?.Redeemed ?? 0));
        }

        // Totals: watch time is weighted by each show's unique viewers; rates are of the summed counts.
        var unique = rows.Sum(r => r.UniqueViewers);
        var total = new SellerTotals(
            rows.Count, rows.Sum(r => r.GmvMinor), rows.Sum(r => r.Orders), unique, rows.Count == 0 ? 0 : rows.Max(r => r.PeakViewers),
            unique == 0 ? 0 : Math.Round(rows.Sum(r => r.AvgWatchSeconds * r.UniqueViewers) / unique, 1),
            rows.Sum(r => r.ProductClicks), Ratio(rows.Sum(r => r.ProductClicks), unique), Ratio(buyers, unique), rows.Sum(r => r.ChatMessages),
            rows.Sum(r => r.VouchersClaimed), rows.Sum(r => r.VouchersRedeemed));
        return TypedResults.Ok(new SellerAnalyticsReport(start, end, total, rows));
    }

    private static double Ratio(long part, long whole) => whole == 0 ? 0 : Math.Round((double)part / whole, 4);

    private static DateTimeOffset? Parse(string? value, string field, RequestValidator v)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        if (DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at))
        {
            return at;
        }

        v.Add(field, $"{field} must be an ISO 8601 date or time, e.g. 2026-12-01 or 2026-12-01T08:00:00Z.");
        return null;
    }

    /// <summary>The seller's sessions created in [from, to), newest first, at most <see cref="MaxShows"/>.</summary>
    private static async Task<List<LiveSessionRow>> ShowsAsync(LiveSessionStore sessions, string sellerId, DateTimeOffset from, DateTimeOffset to, CancellationToken ct)
    {
        var found = new List<LiveSessionRow>();
        var page = new PageRequest(PageRequest.MaxLimit, null, null);
        var (fromMs, toMs) = (from.ToUnixTimeMilliseconds(), to.ToUnixTimeMilliseconds());
        while (found.Count < MaxShows)
        {
            var batch = await sessions.ListAsync(null, sellerId, page, ct);
            found.AddRange(batch.Take(PageRequest.MaxLimit).Where(s => s.CreatedAt >= fromMs && s.CreatedAt < toMs));
            if (batch.Count <= PageRequest.MaxLimit || batch[PageRequest.MaxLimit - 1].CreatedAt < fromMs)
            {
                break;
            }

            var last = batch[PageRequest.MaxLimit - 1];
            page = new PageRequest(PageRequest.MaxLimit, last.CreatedAt, last.Id);
        }

        return found.Take(MaxShows).ToList();
    }
}
