using System.Collections.Immutable;
using System.Security.Claims;
using System.Security.Cryptography;
using System.Text;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;
using Pasar.Server.Analytics;
using Pasar.Server.Catalog;
using Pasar.Server.Coins;
using Pasar.Server.Live;
using Pasar.Server.Orders;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Auth;
using Pasar.Server.Platform.Events;
using Pasar.Server.Platform.Http;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Social;

internal sealed record ShareRequest(string? Platform);

internal sealed record ShareLink(string TrackingCode, string Url);

internal sealed record ShareStats(string TrackingCode, string ProductId, string Platform, long Clicks, long Purchases, long CoinsEarned, DateTimeOffset CreatedAt);

/// <summary>Share links: unguessable tracking codes, click counting, and the referral reward.</summary>
internal static class Shares
{
    public static readonly ImmutableArray<string> Platforms = ["whatsapp", "facebook", "telegram", "x", "line", "copy"];
    private const string VisitorCookie = "pasar_vid";

    public static void MapShares(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/api/products/{id}/shares").WithTags("Social").RequireAuthorization(Policies.User).RequireId("id", "PRODUCT_NOT_FOUND", "Product")
            .MapPost("/", Create).WithSummary("Make a share link for a product on a platform");
        app.MapGroup("/api/me/shares").WithTags("Social").RequireAuthorization(Policies.User)
            .MapGet("/", Mine).WithSummary("My share links with clicks, purchases and coins earned");
        app.MapGroup("/s").WithTags("Social").AllowAnonymous()
            .MapGet("/{trackingCode}", Follow).WithSummary("Open a share link: counts the click and redirects to the product page");
    }

    internal static async Task<Results<Created<ShareLink>, ProblemHttpResult, ValidationProblem>> Create(
        string id, ShareRequest body, ClaimsPrincipal user, HttpContext http, Database db, ShareStore shares, ICatalogStock catalog, PublicUrls urls, TimeProvider time,
        IAnalyticsRecorder analytics, LiveSessionStore sessions, CancellationToken ct)
    {
        if (body.Platform is null || !Platforms.Contains(body.Platform))
        {
            return ApiProblem.Validation(new Dictionary<string, string[]> { ["platform"] = [$"platform must be one of {string.Join(", ", Platforms)}."] });
        }

        var code = Ids.Secret(12); // 96 random bits, base64url: unguessable and safe in a URL
        string? sellerId = null;
        var created = await db.InTransactionAsync(async (c, tx) =>
        {
            // The product is read through the catalog's interface in the same transaction as the insert.
            if (await catalog.FindAsync(c, tx, id, ct) is not { } product)
            {
                return false;
            }

            sellerId = product.SellerId;
            await shares.AddAsync(c, tx, code, user.UserId(), id, body.Platform, ct);
            return true;
        }, ct);
        if (!created)
        {
            return ApiProblem.NotFound("PRODUCT_NOT_FOUND", "Product");
        }

        if (analytics.Enabled && sellerId is not null)
        {
            // A share while the product's seller is live counts for that show (SPEC §13).
            foreach (var live in await sessions.ListAsync(LiveStatus.Live, sellerId, new PageRequest(5, null, null), ct))
            {
                analytics.Record(new AnalyticsEvent("share:" + code + ":" + live.Id, AnalyticsKind.Share, live.Id, sellerId, user.UserId(), user.UserId(),
                    time.GetUtcNow().ToUnixTimeMilliseconds(), ProductId: id));
            }
        }

        var url = $"{urls.Origin(http.Request)}/s/{code}";
        return TypedResults.Created(url, new ShareLink(code, url));
    }

    internal static async Task<Results<Ok<Page<ShareStats>>, ValidationProblem>> Mine(
        [FromQuery] int? limit, [FromQuery] string? cursor, ClaimsPrincipal user, ShareStore shares, CancellationToken ct) =>
        PagedQuery.Bind(limit, cursor, out var invalid) is { } page ? TypedResults.Ok(await shares.PageAsync(user.UserId(), page, ct)) : invalid!;

    /// <summary>
    /// Counts a click once per visitor per 24 h, and at most a bounded number per client address per hour, then
    /// redirects to the product page on this site. The target is built from the stored product id, never from
    /// the request, so the route cannot send anyone elsewhere. A click that does not count writes no rows.
    /// </summary>
    internal static async Task<Results<RedirectHttpResult, ProblemHttpResult>> Follow(
        string trackingCode, HttpContext http, ShareStore shares, ShareClickBound bound, TimeProvider time, CancellationToken ct)
    {
        if (trackingCode.Length is < 8 or > 32 || !trackingCode.All(ch => char.IsAsciiLetterOrDigit(ch) || ch is '-' or '_'))
        {
            return ApiProblem.NotFound("SHARE_NOT_FOUND", "Share link");
        }

        var visitors = VisitorIds(http);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var cutoff = now - (long)TimeSpan.FromHours(24).TotalMilliseconds;
        var (productId, seen) = await shares.FindForVisitorAsync(trackingCode, visitors, cutoff, ct);
        if (productId is null)
        {
            return ApiProblem.NotFound("SHARE_NOT_FOUND", "Share link");
        }

        // A visitor seen in the last 24 h is not asked about; a new one takes from its address's hourly bound.
        // Counted by both the browser's cookie and its address + user agent: a browser that drops cookies, or a
        // script replaying the link, is not counted again.
        var mayCount = !seen && await bound.TryTakeAsync(trackingCode, RateLimits.AddressKey(http.Connection.RemoteIpAddress), ct);
        await shares.RecordClickAsync(trackingCode, visitors, mayCount, now, cutoff, ct);
        return TypedResults.Redirect($"/p/{Uri.EscapeDataString(productId)}?ref={Uri.EscapeDataString(trackingCode)}");
    }

    /// <summary>The visitor's ids: a per-browser cookie (set on the first visit) and a hash of address and user agent.</summary>
    private static string[] VisitorIds(HttpContext http)
    {
        if (!http.Request.Cookies.TryGetValue(VisitorCookie, out var cookie) || cookie.Length is < 16 or > 64)
        {
            cookie = Ids.Secret(16);
            http.Response.Cookies.Append(VisitorCookie, cookie, new CookieOptions
            {
                HttpOnly = true,
                SameSite = SameSiteMode.Lax,
                MaxAge = TimeSpan.FromDays(365),
                IsEssential = true,
                Secure = http.Request.IsHttps, // behind a TLS proxy too, once forwarded headers have set the scheme
            });
        }

        var fingerprint = $"{http.Connection.RemoteIpAddress}|{http.Request.Headers.UserAgent}";
        return ["c:" + cookie, "fp:" + Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(fingerprint)))[..32]];
    }
}

/// <summary>
/// Rewards the sharer when an order carries their tracking code, the code was clicked in the referral window
/// before the order, the order is for the shared product, and the buyer is not the sharer. Runs from the
/// outbox, and the ledger's (REFERRAL, order id) uniqueness makes it once per order.
/// </summary>
internal sealed class ReferralReward(CoinLedger ledger, IOptions<SocialOptions> options) : IEventHandler<PurchaseCompleted>
{
    public async Task HandleAsync(PurchaseCompleted e, EventContext context, CancellationToken ct)
    {
        if (string.IsNullOrEmpty(e.Ref))
        {
            return;
        }

        var share = await ShareStore.FindAsync(context.Connection, context.Transaction, e.Ref, ct);
        if (share is not { } s || s.UserId == e.BuyerId || s.ProductId != e.ProductId || s.LastClickedAt is null)
        {
            return;
        }

        var orderedAt = e.At.ToUnixTimeMilliseconds();
        if (s.LastClickedAt.Value < orderedAt - (long)options.Value.ReferralWindow.TotalMilliseconds)
        {
            return;
        }

        var coins = options.Value.ReferralCoins;
        var (status, _) = await ledger.ApplyAsync(context.Connection, context.Transaction, s.UserId, coins, CoinSources.Referral, e.OrderId, ct);
        if (status == CoinApplyStatus.Applied)
        {
            await ShareStore.AddPurchaseAsync(context.Connection, context.Transaction, e.Ref, coins, ct);
        }
    }
}
