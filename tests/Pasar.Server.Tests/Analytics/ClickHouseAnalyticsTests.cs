using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Pasar.Server.Analytics;
using Pasar.Server.Live;
using Pasar.Server.LiveRoom;
using Pasar.Server.Platform.Storage;
using Pasar.Server.Tests.Infrastructure;
using Pasar.Server.Tests.LiveRoom;
using Pasar.Testing;

namespace Pasar.Server.Tests.Analytics;

/// <summary>
/// Viewer analytics on the real ClickHouse (SPEC §13): a scripted show gives the same figures from ClickHouse as
/// from SQL, across a ClickHouse outage, a retried batch, a full spool and a restart of Pasar.
/// </summary>
public sealed class ClickHouseAnalyticsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Action<Dictionary<string, string?>> WithClickHouse(ClickHouseServer server, string? password = null, int? spoolCapacity = null) => s =>
    {
        s["Pasar:Analytics:ClickHouse:Url"] = server.Url;
        s["Pasar:Analytics:ClickHouse:Database"] = "pasar_" + Guid.NewGuid().ToString("N")[..8];
        if (password is not null)
        {
            s["Pasar:Analytics:ClickHouse:Password"] = password;
        }

        if (spoolCapacity is not null)
        {
            s["Pasar:Analytics:SpoolCapacity"] = spoolCapacity.ToString();
        }
    };

    private static ClickHouseHttp ClientFor(ClickHouseServer server, PasarApp app) =>
        new(new ClickHouseOptions { Url = server.Url, Database = app.Settings["Pasar:Analytics:ClickHouse:Database"]! });

    private static Task<long> SpooledAsync(PasarApp app) => app.ScalarAsync<long>("SELECT COUNT(*) FROM analytics_spool");

    private static async Task<(long Rows, long Distinct)> EventRowsAsync(ClickHouseHttp client)
    {
        var row = (await client.QueryAsync($"SELECT count() AS rows, uniqExact(event_id) AS ids FROM {client.Database}.viewing_events", Ct)).Single();
        return (ClickHouseHttp.Integer(row, "rows"), ClickHouseHttp.Integer(row, "ids"));
    }

    /// <summary>The value of a Prometheus sample (<c>name{labels} value [timestamp]</c>) whose labels contain <paramref name="label"/>.</summary>
    private static double MetricValue(string metrics, string name, string label = "")
    {
        var line = metrics.Split('\n').FirstOrDefault(l => (l.StartsWith(name + "{", StringComparison.Ordinal) || l.StartsWith(name + " ", StringComparison.Ordinal)) && l.Contains(label, StringComparison.Ordinal));
        Assert.True(line is not null, $"{name} {label} is not in /metrics");
        var value = line!.Contains('}') ? line[(line.IndexOf('}') + 1)..] : line[name.Length..];
        return double.Parse(value.Trim().Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture);
    }

    private static async Task<JsonElement> ReadinessAsync(PasarApp app) =>
        (await (await app.Client.GetAsync("/readyz", Ct)).JsonAsync()).GetProperty("checks").GetProperty("analytics");

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_show_with_ClickHouse_killed_mid_way_gives_the_SQL_figures_with_nothing_lost_or_doubled(Backend backend)
    {
        await using var clickHouse = await ClickHouseTesting.StartOrSkipAsync();
        await using var app = await PasarApp.StartAsync(backend, WithClickHouse(clickHouse));
        using var ch = ClientFor(clickHouse, app);
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        var sessionId = await ChatTests.CreateSessionAsync(seller);
        var scarf = (await seller.CreateProductAsync(stock: 50, priceMinor: 1000)).GetProperty("id").GetString()!;
        Assert.True(await app.Services.GetRequiredService<LiveSessionStore>().MarkLiveAsync(sessionId, Ct));
        Assert.Equal(HttpStatusCode.OK, (await seller.PostAsJsonAsync($"/api/live/sessions/{sessionId}/pins", new { productId = scarf }, Ct)).StatusCode);

        // The show: 30 signed-in viewers and 30 anonymous ones join; 10 chat, 5 buy, everyone clicks the
        // pinned product and heartbeats, one leaves.
        var viewers = new List<RoomClient>();
        var buyers = new List<HttpClient>();
        for (var i = 0; i < 30; i++)
        {
            viewers.Add(await RoomClient.ConnectAsync(app, await app.TokenAsync($"buyer-{i}", "buyer")));
            viewers.Add(await RoomClient.ConnectAsync(app, anonId: $"anon-viewer-{i:D4}"));
            if (i < 5)
            {
                buyers.Add(await app.ClientAsAsync($"buyer-{i}", "buyer"));
            }
        }

        await Task.WhenAll(viewers.Select(v => v.JoinAsync(sessionId)));
        await PasarApp.EventuallyAsync(async () => await SpooledAsync(app) == 0 && (await EventRowsAsync(ch)).Distinct >= 61,
            TimeSpan.FromSeconds(15), "the joins and the pin to reach ClickHouse");

        // ClickHouse goes away for 10 s in the middle of the show; the show goes on.
        await clickHouse.KillAsync();
        var killedAt = DateTime.UtcNow;
        for (var i = 0; i < 10; i++)
        {
            await viewers[i * 2].ChatAsync(sessionId, $"message {i}");
        }

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(HttpStatusCode.Created, (await buyers[i].PlaceOrderAsync(scarf, i + 1)).StatusCode);
        }

        foreach (var v in viewers)
        {
            await v.Connection.InvokeAsync("ProductClicked", sessionId, scarf, Ct);
            await v.Connection.InvokeAsync("Heartbeat", sessionId, Ct);
        }

        await viewers[^1].Connection.InvokeAsync("LeaveSession", sessionId, Ct);
        await PasarApp.EventuallyAsync(async () => await app.ScalarAsync<long>("SELECT COUNT(*) FROM outbox WHERE dispatched_at IS NULL") == 0,
            TimeSpan.FromSeconds(15), "the purchases to be attributed");
        // 10 chat + 5 purchases + 60 clicks + 60 heartbeats + 1 end, all waiting in the spool.
        await PasarApp.EventuallyAsync(async () => await SpooledAsync(app) == 136, TimeSpan.FromSeconds(10), "the events to wait in the spool");
        var downFor = TimeSpan.FromSeconds(10) - (DateTime.UtcNow - killedAt);
        if (downFor > TimeSpan.Zero)
        {
            await Task.Delay(downFor, Ct); // the sink keeps retrying against a dead server meanwhile
        }

        var down = await ReadinessAsync(app);
        Assert.Equal("Degraded", down.GetProperty("status").GetString());
        Assert.Contains("Pasar:Analytics:ClickHouse:Url", down.GetProperty("description").GetString());
        Assert.Equal(136, MetricValue(await app.Client.GetStringAsync("/metrics", Ct), "pasar_analytics_spool_backlog"));

        await clickHouse.StartAgainAsync();
        await PasarApp.EventuallyAsync(async () => await SpooledAsync(app) == 0, TimeSpan.FromSeconds(20), "the spool to drain into ClickHouse");
        // 1 pin + 60 starts + 136 = 197 events, each exactly once.
        var (rows, distinct) = await EventRowsAsync(ch);
        Assert.Equal(197, distinct);
        Assert.Equal("Healthy", (await ReadinessAsync(app)).GetProperty("status").GetString());

        var stats = await (await seller.GetAsync($"/api/live/sessions/{sessionId}/stats", Ct)).JsonAsync();
        var sql = await RoomAnalytics.SqlFiguresAsync(app.Services.GetRequiredService<Database>(), sessionId, Ct);
        var fromClickHouse = await app.Services.GetRequiredService<ISessionAnalytics>().SessionAsync("seller-1", sessionId, Ct);
        Assert.Equal(60, stats.GetProperty("uniqueViewers").GetInt64());
        Assert.Equal(60, stats.GetProperty("totalViews").GetInt64());
        Assert.Equal(10, stats.GetProperty("chatMessages").GetInt64());
        Assert.Equal(5, stats.GetProperty("purchases").GetInt64());
        Assert.Equal(15_000, stats.GetProperty("gmvMinor").GetInt64());
        Assert.Equal(Math.Round(5 / 60.0, 4), stats.GetProperty("conversionRate").GetDouble());
        Assert.Equal(60, fromClickHouse.ProductClicks);
        Assert.Equal(sql, fromClickHouse);
        Assert.Equal(sql.AvgWatchSeconds, stats.GetProperty("avgWatchSeconds").GetDouble());

        // A batch ClickHouse took whose acknowledgement was lost is sent again: the raw rows double, the figures do not.
        await ch.ExecuteAsync($"INSERT INTO {ch.Database}.viewing_events SELECT * FROM {ch.Database}.viewing_events", Ct);
        Assert.Equal((rows * 2, 197L), await EventRowsAsync(ch));
        Assert.Equal(fromClickHouse, await app.Services.GetRequiredService<ISessionAnalytics>().SessionAsync("seller-1", sessionId, Ct));
        var again = await (await seller.GetAsync($"/api/live/sessions/{sessionId}/stats", Ct)).JsonAsync();
        Assert.Equal(stats.GetProperty("purchases").GetInt64(), again.GetProperty("purchases").GetInt64());
        Assert.Equal(stats.GetProperty("gmvMinor").GetInt64(), again.GetProperty("gmvMinor").GetInt64());
        Assert.Equal(stats.GetProperty("uniqueViewers").GetInt64(), again.GetProperty("uniqueViewers").GetInt64());

        // A share of the product while its seller is live counts for the show.
        Assert.Equal(HttpStatusCode.Created, (await buyers[0].PostAsJsonAsync($"/api/products/{scarf}/shares", new { platform = "whatsapp" }, Ct)).StatusCode);
        await PasarApp.EventuallyAsync(async () => ClickHouseHttp.Integer((await ch.QueryAsync(
                $"SELECT uniqExact(event_id) AS n FROM {ch.Database}.viewing_events WHERE kind = 'share' AND session_id = {ClickHouseHttp.Quote(sessionId)} AND user_id = 'buyer-0'", Ct))[0], "n") == 1,
            TimeSpan.FromSeconds(10), "the share to reach ClickHouse");

        foreach (var v in viewers)
        {
            await v.DisposeAsync();
        }

        buyers.ForEach(b => b.Dispose());
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_full_spool_drops_the_newest_and_counts_them_and_what_it_holds_arrives(Backend backend)
    {
        await using var clickHouse = await ClickHouseTesting.StartOrSkipAsync();
        await clickHouse.KillAsync();
        await using var app = await PasarApp.StartAsync(backend, WithClickHouse(clickHouse, spoolCapacity: 1_000));
        var recorder = app.Services.GetRequiredService<IAnalyticsRecorder>();
        var at = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        for (var i = 0; i < 1_500; i++)
        {
            recorder.Record(new AnalyticsEvent($"hb-{i}", AnalyticsKind.Heartbeat, "s-bound", "seller-b", $"v-{i % 100}", null, at + i, ViewId: $"view-{i % 100}"));
        }

        await app.Services.GetRequiredService<AnalyticsSpool>().FlushAsync();
        Assert.Equal(1_000, await SpooledAsync(app));
        var metrics = await app.Client.GetStringAsync("/metrics", Ct);
        Assert.Equal(500, MetricValue(metrics, "pasar_analytics_dropped_total", "reason=\"spool_full\""));

        await clickHouse.StartAgainAsync();
        await PasarApp.EventuallyAsync(async () => await SpooledAsync(app) == 0, TimeSpan.FromSeconds(20), "the spool to drain");
        using var ch = ClientFor(clickHouse, app);
        var ids = await ch.QueryAsync($"SELECT min(event_id) AS first, max(event_id) AS last, uniqExact(event_id) AS n FROM {ch.Database}.viewing_events", Ct);
        Assert.Equal(1_000, ClickHouseHttp.Integer(ids[0], "n"));
        // The oldest thousand were kept: hb-0 … hb-999.
        Assert.Equal(1_000, ClickHouseHttp.Integer((await ch.QueryAsync(
            $"SELECT count() AS n FROM {ch.Database}.viewing_events WHERE toUInt32(substring(event_id, 4)) < 1000", Ct))[0], "n"));
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_restarted_Pasar_delivers_what_it_spooled_while_ClickHouse_was_down(Backend backend)
    {
        await using var clickHouse = await ClickHouseTesting.StartOrSkipAsync();
        await clickHouse.KillAsync();
        var first = await PasarApp.StartAsync(backend, WithClickHouse(clickHouse));
        var settings = first.Settings.ToDictionary(kv => kv.Key, kv => kv.Value);
        var recorder = first.Services.GetRequiredService<IAnalyticsRecorder>();
        var at = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        for (var i = 0; i < 2_500; i++)
        {
            recorder.Record(new AnalyticsEvent($"ev-{i}", AnalyticsKind.Heartbeat, "s-restart", "seller-r", $"v-{i % 50}", null, at + i, ViewId: $"view-{i % 50}"));
        }

        // A clean stop writes what is queued into the spool; ClickHouse is still down.
        first.KeepDataOnDispose = true;
        await first.DisposeAsync();

        await clickHouse.StartAgainAsync();
        await using var second = await PasarApp.StartAsync(backend, shareSettings: settings, restart: true);
        Assert.Equal(backend, second.Backend);
        await PasarApp.EventuallyAsync(async () => await SpooledAsync(second) == 0, TimeSpan.FromSeconds(20), "the spool of the first run to drain");
        using var ch = ClientFor(clickHouse, second);
        Assert.Equal((2_500L, 2_500L), await EventRowsAsync(ch));
    }

    [Fact]
    public async Task Retention_drops_the_months_past_the_setting_and_keeps_the_rest()
    {
        await using var clickHouse = await ClickHouseTesting.StartOrSkipAsync();
        await using var app = await PasarApp.StartAsync(Backend.Embedded, s =>
        {
            WithClickHouse(clickHouse)(s);
            s["Pasar:Analytics:RetentionMonths"] = "2";
        });
        var recorder = app.Services.GetRequiredService<IAnalyticsRecorder>();
        var now = DateTimeOffset.UtcNow;
        foreach (var (id, at) in new[] { ("old", now.AddMonths(-6)), ("last-month", now.AddMonths(-1)), ("now", now) })
        {
            recorder.Record(new AnalyticsEvent(id, AnalyticsKind.ViewStart, "s-ret", "seller-ret", "v-1", null, at.ToUnixTimeMilliseconds(), ViewId: "view-" + id));
        }

        await app.Services.GetRequiredService<AnalyticsSpool>().FlushAsync();
        await PasarApp.EventuallyAsync(async () => await SpooledAsync(app) == 0, TimeSpan.FromSeconds(10), "the spool to drain");
        var dropped = await app.Services.GetRequiredService<AnalyticsSink>().DropExpiredPartitionsAsync(Ct);
        var old = now.AddMonths(-6);
        Assert.Equal([(old.Year * 100) + old.Month], dropped);
        using var ch = ClientFor(clickHouse, app);
        var left = (await ch.QueryAsync($"SELECT event_id FROM {ch.Database}.viewing_events ORDER BY event_id", Ct)).Select(r => r.GetProperty("event_id").GetString()).ToList();
        Assert.Equal(["last-month", "now"], left);
        var spans = (await ch.QueryAsync($"SELECT view_id FROM {ch.Database}.view_spans GROUP BY view_id ORDER BY view_id", Ct))
            .Select(r => r.GetProperty("view_id").GetString()).ToList();
        Assert.Equal(["view-last-month", "view-now"], spans); // the folded views go with their month too
    }

    [Fact]
    public async Task Two_nodes_share_one_spool_and_every_event_arrives_once()
    {
        await using var clickHouse = await ClickHouseTesting.StartOrSkipAsync();
        await using var nodeA = await PasarApp.StartAsync(Backend.Scaled, WithClickHouse(clickHouse));
        await using var nodeB = await PasarApp.StartAsync(Backend.Scaled, shareSettings: new(nodeA.Settings));
        var at = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds();
        await Task.WhenAll(new[] { nodeA, nodeB }.Select((node, n) => Task.Run(async () =>
        {
            var recorder = node.Services.GetRequiredService<IAnalyticsRecorder>();
            for (var i = 0; i < 3_000; i++)
            {
                recorder.Record(new AnalyticsEvent($"n{n}-{i}", AnalyticsKind.Heartbeat, "s-two", "seller-2n", $"v-{i % 70}", null, at + i, ViewId: $"view-{n}-{i % 70}"));
            }

            await node.Services.GetRequiredService<AnalyticsSpool>().FlushAsync();
        })));
        await PasarApp.EventuallyAsync(async () => await SpooledAsync(nodeA) == 0, TimeSpan.FromSeconds(20), "both sinks to drain the shared spool");
        using var ch = ClientFor(clickHouse, nodeA);
        var (rows, distinct) = await EventRowsAsync(ch);
        Assert.Equal(6_000, distinct);
        Assert.Equal(6_000, rows); // leases kept the two sinks off each other's rows
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Wrong_credentials_show_in_readyz_by_setting_and_the_rest_of_Pasar_works(Backend backend)
    {
        await using var clickHouse = await ClickHouseTesting.StartOrSkipAsync();
        await using var app = await PasarApp.StartAsync(backend, WithClickHouse(clickHouse, password: "not-the-password"));
        await PasarApp.EventuallyAsync(async () => (await ReadinessAsync(app)).GetProperty("description").GetString()!.Contains("credentials"),
            TimeSpan.FromSeconds(10), "readyz to report the refused credentials");
        var check = await ReadinessAsync(app);
        Assert.Equal("Degraded", check.GetProperty("status").GetString());
        Assert.Contains("Pasar:Analytics:ClickHouse:Password", check.GetProperty("description").GetString());
        Assert.DoesNotContain(clickHouse.HttpPort.ToString(), check.GetProperty("description").GetString());
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        var sessionId = await ChatTests.CreateSessionAsync(seller);
        Assert.Equal(HttpStatusCode.OK, (await seller.GetAsync($"/api/live/sessions/{sessionId}/stats", Ct)).StatusCode);
    }

    [Fact]
    public async Task Without_a_ClickHouse_url_nothing_is_spooled_and_readyz_says_sql()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        Assert.False(app.Services.GetRequiredService<IAnalyticsRecorder>().Enabled);
        await using var viewer = await RoomClient.ConnectAsync(app, anonId: "anon-sql-only-1");
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        var sessionId = await ChatTests.CreateSessionAsync(seller);
        await viewer.JoinAsync(sessionId);
        await viewer.Connection.InvokeAsync("ProductClicked", sessionId, "p-1", Ct);
        await viewer.Connection.InvokeAsync("Heartbeat", sessionId, Ct);
        Assert.Equal(0, await SpooledAsync(app));
        Assert.Equal(HttpStatusCode.OK, (await app.Client.GetAsync("/readyz", Ct)).StatusCode);
        Assert.StartsWith("sql", (await ReadinessAsync(app)).GetProperty("description").GetString());
    }
}
