using System.Net;
using System.Security.Claims;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Pasar.Server.Analytics;
using Pasar.Server.Live;
using Pasar.Server.LiveRoom;
using Pasar.Server.Platform.Storage;
using Pasar.Server.Tests.Infrastructure;
using Pasar.Server.Tests.LiveRoom;

namespace Pasar.Server.Tests.Analytics;

/// <summary><c>GET /api/sellers/me/analytics</c>: the seller's shows, from ClickHouse and from SQL, with the same figures.</summary>
public sealed class SellerAnalyticsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Two_shows_give_the_same_dashboard_from_ClickHouse_and_from_SQL(Backend backend)
    {
        await using var clickHouse = await ClickHouseTesting.StartOrSkipAsync();
        await using var app = await PasarApp.StartAsync(backend, s =>
        {
            s["Pasar:Analytics:ClickHouse:Url"] = clickHouse.Url;
            s["Pasar:Analytics:ClickHouse:Database"] = "pasar_dash";
        });
        using var seller = await app.ClientAsAsync("seller-d", "seller");
        var product = (await seller.CreateProductAsync(stock: 50, priceMinor: 2500)).GetProperty("id").GetString()!;
        var first = await ChatTests.CreateSessionAsync(seller, "Monday show");
        var second = await ChatTests.CreateSessionAsync(seller, "Tuesday show");
        var store = app.Services.GetRequiredService<LiveSessionStore>();
        Assert.True(await store.MarkLiveAsync(first, Ct));

        // Show 1: three viewers (two signed in), one chats, two buy, all click.
        var clients = new List<RoomClient>();
        foreach (var (user, anon) in new[] { ("buyer-d1", (string?)null), ("buyer-d2", null), (null, "anon-dash-0001") })
        {
            var client = await RoomClient.ConnectAsync(app, user is null ? null : await app.TokenAsync(user, "buyer"), anon);
            await client.JoinAsync(first);
            await client.Connection.InvokeAsync("ProductClicked", first, product, Ct);
            clients.Add(client);
        }

        await clients[0].ChatAsync(first, "nice");
        using var buyer1 = await app.ClientAsAsync("buyer-d1", "buyer");
        using var buyer2 = await app.ClientAsAsync("buyer-d2", "buyer");
        Assert.Equal(HttpStatusCode.Created, (await buyer1.PlaceOrderAsync(product, 2)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await buyer2.PlaceOrderAsync(product, 1)).StatusCode);
        await PasarApp.EventuallyAsync(async () => await app.ScalarAsync<long>("SELECT COUNT(*) FROM outbox WHERE dispatched_at IS NULL") == 0,
            TimeSpan.FromSeconds(15), "the purchases to be attributed");
        await store.MarkEndedAsync(first, "owner", Ct);
        Assert.True(await store.MarkLiveAsync(second, Ct));

        // Show 2: one anonymous viewer, who heartbeats.
        var late = await RoomClient.ConnectAsync(app, anonId: "anon-dash-0002");
        await late.JoinAsync(second);
        await late.Connection.InvokeAsync("Heartbeat", second, Ct);
        clients.Add(late);
        // Clicks and views are queued in memory before they reach the spool: an empty spool alone can come first.
        // The peaks are the room's own samples, written a moment after a join: both shows must have theirs, or the
        // two reads below can see different peaks of the live show.
        await PasarApp.EventuallyAsync(async () =>
        {
            var now = await (await seller.GetAsync("/api/sellers/me/analytics", Ct)).JsonAsync();
            var totals = now.GetProperty("total");
            return totals.GetProperty("uniqueViewers").GetInt64() == 4 && totals.GetProperty("productClicks").GetInt64() == 3
                && now.GetProperty("shows").EnumerateArray().Select(s => s.GetProperty("peakViewers").GetInt64()).SequenceEqual([1L, 3L])
                && await app.ScalarAsync<long>("SELECT COUNT(*) FROM analytics_spool") == 0;
        }, TimeSpan.FromSeconds(15), "every event to reach ClickHouse and both peaks to be sampled");

        var dashboard = await (await seller.GetAsync("/api/sellers/me/analytics", Ct)).JsonAsync();
        var total = dashboard.GetProperty("total");
        Assert.Equal(2, total.GetProperty("shows").GetInt64());
        Assert.Equal(4, total.GetProperty("uniqueViewers").GetInt64());
        Assert.Equal(2, total.GetProperty("orders").GetInt64());
        Assert.Equal(7500, total.GetProperty("gmvMinor").GetInt64());
        Assert.Equal(1, total.GetProperty("chatMessages").GetInt64());
        Assert.Equal(3, total.GetProperty("productClicks").GetInt64());
        Assert.Equal(0.75, total.GetProperty("clickThroughRate").GetDouble());
        Assert.Equal(0.5, total.GetProperty("conversionRate").GetDouble());
        var shows = dashboard.GetProperty("shows").EnumerateArray().ToList();
        Assert.Equal([second, first], shows.Select(s => s.GetProperty("sessionId").GetString()));
        Assert.Equal(Math.Round(2 / 3.0, 4), shows[1].GetProperty("conversionRate").GetDouble());

        // The SQL path, on the same events: the same figures, product clicks included.
        var principal = new ClaimsPrincipal(new ClaimsIdentity([new Claim("sub", "seller-d"), new Claim("role", "seller")], "test"));
        var sql = (Ok<SellerAnalyticsReport>)(await SellerAnalytics.Get(
            dashboard.GetProperty("from").GetString(), dashboard.GetProperty("to").GetString(), principal, store, new SqlOnlyAnalytics(),
            app.Services.GetRequiredService<ViewWriter>(), app.Services.GetRequiredService<ClickWriter>(), app.Services.GetRequiredService<ChatWriter>(), app.Services.GetRequiredService<Database>(), TimeProvider.System, app.Services.GetServices<ISessionVoucherFigures>(), app.Services.GetRequiredService<Microsoft.Extensions.Logging.ILoggerFactory>(), Ct)).Result;
        var fromClickHouse = (Ok<SellerAnalyticsReport>)(await SellerAnalytics.Get(
            dashboard.GetProperty("from").GetString(), dashboard.GetProperty("to").GetString(), principal, store, app.Services.GetRequiredService<ISessionAnalytics>(),
            app.Services.GetRequiredService<ViewWriter>(), app.Services.GetRequiredService<ClickWriter>(), app.Services.GetRequiredService<ChatWriter>(), app.Services.GetRequiredService<Database>(), TimeProvider.System, app.Services.GetServices<ISessionVoucherFigures>(), app.Services.GetRequiredService<Microsoft.Extensions.Logging.ILoggerFactory>(), Ct)).Result;
        Assert.Equal(fromClickHouse.Value!.Total, sql.Value!.Total);
        Assert.Equal(
            fromClickHouse.Value.Shows.Select(s => (s.SessionId, s.GmvMinor, s.Orders, s.UniqueViewers, s.PeakViewers, s.AvgWatchSeconds, s.ConversionRate, s.ChatMessages, s.ProductClicks, s.ClickThroughRate)),
            sql.Value.Shows.Select(s => (s.SessionId, s.GmvMinor, s.Orders, s.UniqueViewers, s.PeakViewers, s.AvgWatchSeconds, s.ConversionRate, s.ChatMessages, s.ProductClicks, s.ClickThroughRate)));

        // Bad periods are refused with the field named; nothing else to change.
        await (await seller.GetAsync("/api/sellers/me/analytics?from=yesterday", Ct)).AssertProblemAsync(HttpStatusCode.BadRequest, "VALIDATION_FAILED");
        await (await seller.GetAsync("/api/sellers/me/analytics?from=2026-12-02&to=2026-12-01", Ct)).AssertProblemAsync(HttpStatusCode.BadRequest, "VALIDATION_FAILED");
        using var stranger = await app.ClientAsAsync("seller-x", "seller");
        var empty = await (await stranger.GetAsync("/api/sellers/me/analytics", Ct)).JsonAsync();
        Assert.Equal(0, empty.GetProperty("total").GetProperty("shows").GetInt64());

        foreach (var c in clients)
        {
            await c.DisposeAsync();
        }
    }
}
