using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Dapper;
using Pasar.Testing;

namespace Pasar.Bench;

/// <summary>
/// Viewer analytics (SPEC §13, issue 16), on a real ClickHouse.
/// <para>sink: one embedded node with ClickHouse configured and N viewers joined to one room, each calling
/// <c>Heartbeat</c> every P seconds (15 s is the web app's cadence; shorter periods find the ceiling). Every beat is
/// one viewing event through the in-memory queue, the SQL spool and the sink into ClickHouse, and one update of its
/// SQL view row. Reported: events/s that reached ClickHouse, the spool backlog left, and Pasar's CPU per 1,000
/// events/s.</para>
/// <para>stats: one show with E events and one seller with S shows of E/S events each, seeded straight into ClickHouse
/// (with <c>numbers()</c>) or into SQL (the rows the SQL path keeps for the same events: one row per view, chat
/// message, click and purchase). Then <c>GET /api/live/sessions/{id}/stats</c> and <c>GET /api/sellers/me/analytics</c>
/// as fast as they answer, on ClickHouse, SQLite and PostgreSQL side by side. Each target's figures are printed, so
/// the three paths can be seen to count the same events alike.</para>
/// </summary>
public static class AnalyticsScenario
{
    private const string Database = "pasar_bench";

    public static async Task RunAsync(string[] args)
    {
        string Option(string name, string fallback)
        {
            var i = Array.IndexOf(args, "--" + name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        }

        var part = Option("part", "both");
        var seconds = double.Parse(Option("seconds", "20"), CultureInfo.InvariantCulture);
        await using var clickHouse = await ClickHouseServer.StartAsync();
        Console.WriteLine($"Pasar.Bench analytics: {Environment.ProcessorCount} cores, ClickHouse {await VersionAsync(clickHouse)}, {seconds} s per measurement");
        if (part is "both" or "sink")
        {
            var periods = Option("periods", "15,2,1").Split(',').Select(p => double.Parse(p, CultureInfo.InvariantCulture)).ToArray();
            await SinkAsync(clickHouse, int.Parse(Option("viewers", "10000"), CultureInfo.InvariantCulture), periods, TimeSpan.FromSeconds(seconds));
        }

        if (part is "both" or "stats")
        {
            await StatsAsync(clickHouse, int.Parse(Option("show-events", "1000000"), CultureInfo.InvariantCulture),
                int.Parse(Option("shows", "1000"), CultureInfo.InvariantCulture), TimeSpan.FromSeconds(seconds));
        }
    }

    private static async Task SinkAsync(ClickHouseServer clickHouse, int viewers, double[] periods, TimeSpan window)
    {
        await using var target = await PasarChatTarget.StartAsync(new Dictionary<string, string?>
        {
            ["Pasar:Analytics:ClickHouse:Url"] = clickHouse.Url,
            ["Pasar:Analytics:ClickHouse:Database"] = Database,
        });
        var room = await target.CreateRoomAsync();
        await using var load = new ChatLoad(target, room);
        var beat = Encoding.UTF8.GetBytes($"{{\"type\":1,\"target\":\"Heartbeat\",\"arguments\":[\"{room}\"]}}\u001e");
        load.KeepAlive = (beat, TimeSpan.FromSeconds(periods[0]));
        var connecting = Stopwatch.StartNew();
        await load.AddViewersAsync(viewers);
        Console.WriteLine($"{load.Viewers} viewers joined in {connecting.Elapsed.TotalSeconds:F0} s ({load.ConnectFailures} failed to connect)");
        Console.WriteLine();
        Console.WriteLine("| viewers | heartbeat every | offered events/s | reached ClickHouse /s | spool backlog after | dropped | Pasar CPU % of all cores | ClickHouse CPU % | Pasar CPU % per 1,000 events/s |");
        Console.WriteLine("|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        using var http = target.Target.Server.NewClient();
        foreach (var period in periods)
        {
            load.KeepAlive = (beat, TimeSpan.FromSeconds(period));
            // One whole period at the new rate, and the sink's pipeline full, before measuring.
            await Task.Delay(TimeSpan.FromSeconds(Math.Max(period, 5) + 5));
            var (events0, pasar0, ch0) = (await HeartbeatsAsync(clickHouse), target.Target.Server.CpuSeconds(), clickHouse.CpuSeconds());
            var clock = Stopwatch.StartNew();
            await Task.Delay(window);
            var (events1, pasar1, ch1) = (await HeartbeatsAsync(clickHouse), target.Target.Server.CpuSeconds(), clickHouse.CpuSeconds());
            var elapsed = clock.Elapsed.TotalSeconds;
            var metrics = await http.GetStringAsync("/metrics");
            var reached = (events1 - events0) / elapsed;
            var pasarPercent = 100 * (pasar1 - pasar0) / (elapsed * Environment.ProcessorCount);
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {load.Viewers} | {period} s | {load.Viewers / period:F0} | {reached:F0} | {Metric(metrics, "pasar_analytics_spool_backlog"):F0} | {Metric(metrics, "pasar_analytics_dropped"):F0} | {pasarPercent:F1} | {100 * (ch1 - ch0) / (elapsed * Environment.ProcessorCount):F1} | {(reached <= 0 ? 0 : pasarPercent / (reached / 1000)):F2} |"));
        }

        Console.WriteLine($"(viewers dropped by the server meanwhile: {load.Dropped})");
    }

    private static async Task StatsAsync(ClickHouseServer clickHouse, int showEvents, int shows, TimeSpan window)
    {
        Console.WriteLine();
        Console.WriteLine($"Stats of one show with {showEvents:N0} events, and the dashboard of one seller with {shows:N0} shows of {showEvents / shows:N0} events each, 4 clients:");
        Console.WriteLine();
        Console.WriteLine(LoadResult.Header);
        var figures = new List<string>();
        foreach (var (backend, label, onClickHouse) in new[] { ("embedded", "ClickHouse", true), ("embedded", "SQL path", false), ("scaled", "SQL path", false) })
        {
            var database = $"{Database}_{figures.Count}";
            var extra = onClickHouse
                ? new Dictionary<string, string?> { ["Pasar:Analytics:ClickHouse:Url"] = clickHouse.Url, ["Pasar:Analytics:ClickHouse:Database"] = database }
                : null;
            await using var target = await BenchTarget.StartAsync(backend, extra, label);
            var minter = new JwtMinter(BenchTarget.SigningKey);
            var bigSeller = minter.Mint("stats-big-seller", "seller");
            var manySeller = minter.Mint("stats-many-seller", "seller");
            using var http = DailyScenarios.Client(target, 4);
            var big = await CreateShowsAsync(http, bigSeller, 1);
            var many = await CreateShowsAsync(http, manySeller, shows);
            var seeding = Stopwatch.StartNew();
            if (onClickHouse)
            {
                await WaitForSchemaAsync(clickHouse, database);
                await SeedClickHouseAsync(clickHouse, database, "stats-big-seller", big, showEvents);
                await SeedClickHouseAsync(clickHouse, database, "stats-many-seller", many, showEvents / shows);
            }
            else
            {
                await SeedSqlAsync(target, backend, big, showEvents);
                await SeedSqlAsync(target, backend, many, showEvents / shows);
            }

            Console.Error.WriteLine($"{target.Name}: seeded in {seeding.Elapsed.TotalSeconds:F0} s");
            foreach (var (name, path, token) in new[]
            {
                ($"stats, 1 show of {showEvents / 1000:N0}k events", $"/api/live/sessions/{big[0]}/stats", bigSeller),
                ($"seller dashboard, {shows:N0} shows", "/api/sellers/me/analytics", manySeller),
            })
            {
                var body = await GetAsync(http, path, token);
                figures.Add($"{target.Name}, {name}: " + (path.Contains("/stats", StringComparison.Ordinal)
                    ? $"unique {body.GetProperty("uniqueViewers")}, views {body.GetProperty("totalViews")}, chat {body.GetProperty("chatMessages")}, purchases {body.GetProperty("purchases")}, GMV {body.GetProperty("gmvMinor")}, avg watch {body.GetProperty("avgWatchSeconds")} s"
                    : $"shows {body.GetProperty("total").GetProperty("shows")}, unique {body.GetProperty("total").GetProperty("uniqueViewers")}, clicks {body.GetProperty("total").GetProperty("productClicks")}, orders {body.GetProperty("total").GetProperty("orders")}, GMV {body.GetProperty("total").GetProperty("gmvMinor")}"));
                var cpu0 = target.CpuSeconds() + (onClickHouse ? clickHouse.CpuSeconds() : 0);
                var run = await LoadRunner.RunAsync(4, window, async (_, _) =>
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, path);
                    request.Headers.Authorization = new("Bearer", token);
                    using var response = await http.SendAsync(request);
                    await response.Content.CopyToAsync(Stream.Null);
                    return response.StatusCode == HttpStatusCode.OK ? LoadRunner.Outcome.Ok : LoadRunner.Outcome.Failed;
                });
                var cpu = target.CpuSeconds() + (onClickHouse ? clickHouse.CpuSeconds() : 0) - cpu0;
                Console.WriteLine(new LoadResult(name, target.Name, run.Ok, run.Refused, run.Failed, run.Seconds, run.P50, run.P99, cpu, target.Server.PeakRssMb()).Row);
            }
        }

        Console.WriteLine();
        Console.WriteLine("(the CPU column of the ClickHouse rows includes the ClickHouse server)");
        Console.WriteLine();
        foreach (var line in figures)
        {
            Console.WriteLine("- " + line);
        }
    }

    private static async Task<JsonElement> GetAsync(HttpClient http, string path, string token)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, path);
        request.Headers.Authorization = new("Bearer", token);
        using var response = await http.SendAsync(request);
        var text = await response.Content.ReadAsStringAsync();
        return response.IsSuccessStatusCode ? JsonDocument.Parse(text).RootElement.Clone() : throw new InvalidOperationException($"{path}: {text}");
    }

    private static async Task<string[]> CreateShowsAsync(HttpClient http, string token, int count)
    {
        var ids = new string[count];
        for (var i = 0; i < count; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/live/sessions") { Content = JsonContent.Create(new { title = $"Show {i + 1}" }) };
            request.Headers.Authorization = new("Bearer", token);
            using var response = await http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            ids[i] = response.IsSuccessStatusCode
                ? JsonDocument.Parse(text).RootElement.GetProperty("id").GetString()!
                : throw new InvalidOperationException($"creating a show: {text}");
        }

        return ids;
    }

    /// <summary>
    /// The event mix of a show of <c>events</c> events: 88 % from views (a start, 20 heartbeats 15 s apart, an end:
    /// 22 events, 315 s watched), 6 % chat, 5 % product clicks, 1 % purchases of 25.00. Viewer and buyer ids repeat,
    /// so unique viewers and buyers are fewer than views and purchases.
    /// </summary>
    private sealed record Mix(int Views, int Chat, int Clicks, int Purchases)
    {
        public static Mix Of(int events)
        {
            var views = Math.Max(1, events * 88 / 100 / 22);
            var chat = events * 6 / 100;
            var clicks = events * 5 / 100;
            return new Mix(views, chat, clicks, Math.Max(1, events - views * 22 - chat - clicks));
        }

        public int Events => Views * 22 + Chat + Clicks + Purchases;

        public int UniqueViewers => Math.Max(1, Views * 3 / 4);
    }

    private const long BaseMs = 1_780_000_000_000;

    private static async Task SeedClickHouseAsync(ClickHouseServer clickHouse, string database, string sellerId, string[] sessions, int eventsPerShow)
    {
        var m = Mix.Of(eventsPerShow);
        var (viewEvents, chatEnd, clickEnd) = (m.Views * 22, m.Views * 22 + m.Chat, m.Views * 22 + m.Chat + m.Clicks);
        var ids = string.Join(", ", sessions.Select(s => $"'{s}'"));
        // local: the event's number within its show; view: its view's number.
        var sql = $"""
            INSERT INTO {database}.viewing_events
            SELECT concat(sid, ':', toString(ln)), kind, sid, '{sellerId}', viewer, uid, vid, product, '', amount, currency, at_ms, toDate(toDateTime(intDiv(at_ms, 1000)))
            FROM (
                SELECT arrayElement([{ids}], intDiv(number, {m.Events}) + 1) AS sid, number % {m.Events} AS ln, intDiv(ln, 22) AS vn,
                    multiIf(ln < {viewEvents}, multiIf(ln % 22 = 0, 'view_start', ln % 22 = 21, 'view_end', 'heartbeat'),
                        ln < {chatEnd}, 'chat', ln < {clickEnd}, 'product_click', 'purchase') AS kind,
                    if(ln < {viewEvents}, concat('v', toString(vn % {m.UniqueViewers})), concat('u', toString((toInt64(ln) - {clickEnd}) % 5000))) AS viewer,
                    if(ln < {viewEvents}, '', concat('u', toString((toInt64(ln) - {clickEnd}) % 5000))) AS uid,
                    if(ln < {viewEvents}, concat('w', toString(vn)), '') AS vid,
                    if(ln >= {chatEnd}, 'p-1', '') AS product,
                    if(ln >= {clickEnd}, 2500, 0) AS amount,
                    if(ln >= {clickEnd}, 'IDR', '') AS currency,
                    toInt64({BaseMs} + if(ln < {viewEvents}, vn * 50 + (ln % 22) * 15000, ln * 10)) AS at_ms
                FROM numbers({(long)m.Events * sessions.Length}))
            """;
        using var http = new HttpClient { BaseAddress = new Uri(clickHouse.Url), Timeout = TimeSpan.FromMinutes(10) };
        using var response = await http.PostAsync("/", new StringContent(sql));
        if (!response.IsSuccessStatusCode)
        {
            throw new InvalidOperationException("seeding ClickHouse: " + await response.Content.ReadAsStringAsync());
        }
    }

    /// <summary>The SQL path's rows for the same events as <see cref="SeedClickHouseAsync"/>.</summary>
    private static async Task SeedSqlAsync(BenchTarget target, string backend, string[] sessions, int eventsPerShow)
    {
        var m = Mix.Of(eventsPerShow);
        string Numbers(int count) => backend == "scaled"
            ? $"generate_series(0, {count - 1}) AS n(i)"
            : $"(WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i + 1 < {count}) SELECT i FROM s) AS n";
        await using var c = await target.OpenDatabaseAsync();
        await using var tx = await c.BeginTransactionAsync();
        foreach (var sid in sessions)
        {
            var args = new { sid };
            await c.ExecuteAsync($"""
                INSERT INTO live_views (id, session_id, viewer_id, user_id, started_at, last_seen_at, ended_at)
                SELECT @sid || ':w' || i, @sid, 'v' || (i % {m.UniqueViewers}), NULL, {BaseMs} + i * 50, {BaseMs} + i * 50 + 315000, {BaseMs} + i * 50 + 315000 FROM {Numbers(m.Views)}
                """, args, tx, commandTimeout: 600);
            await c.ExecuteAsync($"""
                INSERT INTO chat_messages (id, session_id, user_id, user_name, text, sent_at)
                SELECT @sid || ':c' || i, @sid, 'u' || (i % 5000), 'Buyer', 'Is there a red one?', {BaseMs} + i * 10 FROM {Numbers(Math.Max(1, m.Chat))}
                """, args, tx, commandTimeout: 600);
            await c.ExecuteAsync($"""
                INSERT INTO live_product_clicks (id, session_id, viewer_id, user_id, product_id, at)
                SELECT @sid || ':k' || i, @sid, 'v' || (i % {m.UniqueViewers}), NULL, 'p-1', {BaseMs} + i * 10 FROM {Numbers(Math.Max(1, m.Clicks))}
                """, args, tx, commandTimeout: 600);
            await c.ExecuteAsync($"""
                INSERT INTO live_purchases (order_id, session_id, buyer_id, amount_minor, at)
                SELECT @sid || ':o' || i, @sid, 'u' || (i % 5000), 2500, {BaseMs} + i * 10 FROM {Numbers(m.Purchases)}
                """, args, tx, commandTimeout: 600);
        }

        await tx.CommitAsync();
    }

    private static async Task WaitForSchemaAsync(ClickHouseServer clickHouse, string database)
    {
        for (var i = 0; i < 300; i++)
        {
            if (await ScalarAsync(clickHouse, $"SELECT count() FROM system.tables WHERE database = '{database}' AND name = 'viewing_events'") == 1)
            {
                return;
            }

            await Task.Delay(100);
        }

        throw new TimeoutException("Pasar did not create its ClickHouse schema");
    }

    private static Task<long> HeartbeatsAsync(ClickHouseServer clickHouse) =>
        ScalarAsync(clickHouse, $"SELECT count() FROM {Database}.viewing_events WHERE kind = 'heartbeat'");

    private static async Task<long> ScalarAsync(ClickHouseServer clickHouse, string query)
    {
        using var http = new HttpClient { BaseAddress = new Uri(clickHouse.Url) };
        var text = await http.GetStringAsync("/?query=" + Uri.EscapeDataString(query));
        return long.Parse(text.Trim(), CultureInfo.InvariantCulture);
    }

    private static async Task<string> VersionAsync(ClickHouseServer clickHouse)
    {
        using var http = new HttpClient { BaseAddress = new Uri(clickHouse.Url) };
        return (await http.GetStringAsync("/?query=" + Uri.EscapeDataString("SELECT version()"))).Trim();
    }

    private static double Metric(string metrics, string name) => metrics.Split('\n')
        .Where(l => l.StartsWith(name, StringComparison.Ordinal) && (l.Length == name.Length || l[name.Length] is ' ' or '{' or '_'))
        .Sum(l => double.Parse(l[(l.LastIndexOf(' ') + 1)..], CultureInfo.InvariantCulture));
}
