using System.Net;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Pasar.Server.Analytics;
using Pasar.Server.Live;
using Pasar.Server.LiveRoom;
using Pasar.Server.Platform.Storage;
using Pasar.Server.Tests.Infrastructure;
using Pasar.Server.Tests.LiveRoom;

namespace Pasar.Server.Tests.Analytics;

/// <summary>The admin backfill copies SQL-only shows into ClickHouse once, however often it runs.</summary>
public sealed class BackfillTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_show_recorded_in_SQL_only_is_copied_into_ClickHouse_without_duplicates(Backend backend)
    {
        await using var clickHouse = await ClickHouseTesting.StartOrSkipAsync();
        // First, Pasar runs without ClickHouse: the show is only in SQL.
        var sqlOnly = await PasarApp.StartAsync(backend);
        string sessionId;
        using (var seller = await sqlOnly.ClientAsAsync("seller-bf", "seller"))
        {
            sessionId = await ChatTests.CreateSessionAsync(seller);
            var product = (await seller.CreateProductAsync(stock: 10, priceMinor: 1200)).GetProperty("id").GetString()!;
            Assert.True(await sqlOnly.Services.GetRequiredService<LiveSessionStore>().MarkLiveAsync(sessionId, Ct));
            await using var buyer = await RoomClient.ConnectAsync(sqlOnly, await sqlOnly.TokenAsync("buyer-bf", "buyer"));
            await using var anon = await RoomClient.ConnectAsync(sqlOnly, anonId: "anon-backfill-1");
            await buyer.JoinAsync(sessionId);
            await anon.JoinAsync(sessionId);
            await buyer.ChatAsync(sessionId, "hi");
            await anon.Connection.InvokeAsync("Heartbeat", sessionId, Ct);
            await anon.Connection.InvokeAsync("ProductClicked", sessionId, product, Ct);
            await buyer.Connection.InvokeAsync("ProductClicked", sessionId, product, Ct);
            using var orders = await sqlOnly.ClientAsAsync("buyer-bf", "buyer");
            Assert.Equal(HttpStatusCode.Created, (await orders.PlaceOrderAsync(product, 3)).StatusCode);
            await PasarApp.EventuallyAsync(async () => await sqlOnly.ScalarAsync<long>("SELECT COUNT(*) FROM outbox WHERE dispatched_at IS NULL") == 0,
                TimeSpan.FromSeconds(15), "the purchase to be attributed");
            await anon.Connection.InvokeAsync("LeaveSession", sessionId, Ct);
            using var admin = await sqlOnly.ClientAsAsync("admin-bf", "admin");
            await (await admin.PostAsync("/api/admin/analytics/backfill", null, Ct)).AssertProblemAsync(HttpStatusCode.Conflict, "ANALYTICS_NOT_CONFIGURED");
        }

        var settings = sqlOnly.Settings.ToDictionary(kv => kv.Key, kv => kv.Value);
        sqlOnly.KeepDataOnDispose = true;
        await sqlOnly.DisposeAsync();

        // Then ClickHouse is configured, and an admin backfills twice.
        await using var app = await PasarApp.StartAsync(backend, s =>
        {
            s["Pasar:Analytics:ClickHouse:Url"] = clickHouse.Url;
            s["Pasar:Analytics:ClickHouse:Database"] = "pasar_bf";
        }, shareSettings: settings, restart: true);
        using var adminClient = await app.ClientAsAsync("admin-bf", "admin");
        using var notAdmin = await app.ClientAsAsync("seller-bf", "seller");
        Assert.Equal(HttpStatusCode.Forbidden, (await notAdmin.PostAsync("/api/admin/analytics/backfill", null, Ct)).StatusCode);
        var ch = new ClickHouseHttp(new ClickHouseOptions { Url = clickHouse.Url, Database = "pasar_bf" });
        (long Rows, long Ids) counted = default;
        for (var run = 0; run < 2; run++)
        {
            var result = await (await adminClient.PostAsync("/api/admin/analytics/backfill", null, Ct)).JsonAsync();
            Assert.Equal(1, result.GetProperty("sessions").GetInt64());
            Assert.Equal(8, result.GetProperty("events").GetInt64()); // 2 views × (start, end or last seen) + 1 chat + 2 clicks + 1 purchase
            await PasarApp.EventuallyAsync(async () => await app.ScalarAsync<long>("SELECT COUNT(*) FROM analytics_spool") == 0, TimeSpan.FromSeconds(15), "the spool to drain");
            var row = (await ch.QueryAsync("SELECT count() AS rows, uniqExact(event_id) AS ids FROM pasar_bf.viewing_events", Ct)).Single();
            counted = (ClickHouseHttp.Integer(row, "rows"), ClickHouseHttp.Integer(row, "ids"));
        }

        Assert.Equal((16L, 8L), counted); // the second run doubled raw rows only

        // The command-line backfill does the same copy and waits for its sink to send it: a third run adds raw rows
        // and no distinct event.
        var (outcome, byCommand) = await AnalyticsBackfill.BackfillAndDrainAsync(app.Services, TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(AnalyticsBackfill.BackfillOutcome.Sent, outcome);
        Assert.Equal(new BackfillResult(1, 8), byCommand);
        Assert.Equal(0, await app.ScalarAsync<long>("SELECT COUNT(*) FROM analytics_spool"));
        var afterCommand = (await ch.QueryAsync("SELECT count() AS rows, uniqExact(event_id) AS ids FROM pasar_bf.viewing_events", Ct)).Single();
        Assert.Equal((24L, 8L), (ClickHouseHttp.Integer(afterCommand, "rows"), ClickHouseHttp.Integer(afterCommand, "ids")));
        var sql = await RoomAnalytics.SqlFiguresAsync(app.Services.GetRequiredService<Database>(), sessionId, Ct);
        var fromClickHouse = await app.Services.GetRequiredService<ISessionAnalytics>().SessionAsync("seller-bf", sessionId, Ct);
        Assert.Equal(sql, fromClickHouse);
        Assert.Equal((2L, 1L, 2L, 1L, 3600L), (fromClickHouse.UniqueViewers, fromClickHouse.ChatMessages, fromClickHouse.ProductClicks, fromClickHouse.Purchases, fromClickHouse.GmvMinor));
        ch.Dispose();
    }
}
