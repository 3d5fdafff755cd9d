using Pasar.Server.Analytics;

namespace Pasar.Server.Tests.Analytics;

/// <summary>The ClickHouse HTTP client and the schema journal, against the real server.</summary>
public sealed class ClickHouseHttpTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Inserts_JSONEachRow_batches_and_reads_FORMAT_JSON_rows_back()
    {
        await using var server = await ClickHouseTesting.StartOrSkipAsync();
        using var client = new ClickHouseHttp(new ClickHouseOptions { Url = server.Url, Database = "default" });
        await client.ExecuteAsync("CREATE TABLE default.t (id String, n Int64, name String) ENGINE = MergeTree() ORDER BY id", Ct);
        var lines = Enumerable.Range(0, 5_000).Select(i => $$"""{"id":"e{{i % 2_500}}","n":{{i}},"name":"it's \"{{i}}\""}""").ToList();
        await client.InsertAsync("t", lines, Ct);

        var row = (await client.QueryAsync("SELECT count() AS rows, uniqExact(id) AS ids, sum(n) AS total FROM default.t", Ct)).Single();
        Assert.Equal(5_000, ClickHouseHttp.Integer(row, "rows"));
        Assert.Equal(2_500, ClickHouseHttp.Integer(row, "ids"));
        Assert.Equal(Enumerable.Range(0, 5_000).Sum(i => (long)i), ClickHouseHttp.Integer(row, "total"));

        // Quoting: a value with a quote and a backslash matches itself exactly.
        await client.InsertAsync("t", ["""{"id":"o'k\\x","n":1,"name":""}"""], Ct);
        var found = await client.QueryAsync($"SELECT count() AS c FROM default.t WHERE id = {ClickHouseHttp.Quote("o'k\\x")}", Ct);
        Assert.Equal(1, ClickHouseHttp.Integer(found.Single(), "c"));
    }

    [Fact]
    public async Task Errors_carry_ClickHouse_s_message_and_tell_refusal_from_unreachable()
    {
        await using var server = await ClickHouseTesting.StartOrSkipAsync();
        using var client = new ClickHouseHttp(new ClickHouseOptions { Url = server.Url, Database = "default" });
        var missing = await Assert.ThrowsAsync<ClickHouseException>(() => client.QueryAsync("SELECT * FROM default.no_such_table", Ct));
        Assert.Contains("no_such_table", missing.Message);
        Assert.Equal(60, missing.Code); // UNKNOWN_TABLE
        Assert.False(missing.IsAuthentication);

        using var wrongPassword = new ClickHouseHttp(new ClickHouseOptions { Url = server.Url, Database = "default", Password = "not-it" });
        var refused = await Assert.ThrowsAsync<ClickHouseException>(() => wrongPassword.ExecuteAsync("SELECT 1", Ct));
        Assert.True(refused.IsAuthentication, refused.Message);

        await server.KillAsync();
        await Assert.ThrowsAsync<ClickHouseUnavailableException>(() => client.ExecuteAsync("SELECT 1", Ct));
    }

    [Fact]
    public async Task Schema_is_applied_once_and_a_second_start_applies_nothing()
    {
        await using var server = await ClickHouseTesting.StartOrSkipAsync();
        using var client = new ClickHouseHttp(new ClickHouseOptions { Url = server.Url, Database = "pasar_schema" });
        var first = await ClickHouseSchema.ApplyAsync(client, Ct);
        Assert.Equal(ClickHouseSchema.Changes.Select(c => c.Version), first);
        await server.KillAsync();
        await server.StartAgainAsync();
        Assert.Empty(await ClickHouseSchema.ApplyAsync(client, Ct));

        var journal = await client.QueryAsync("SELECT version, count() AS c FROM pasar_schema.schema_journal GROUP BY version", Ct);
        Assert.All(journal, r => Assert.Equal(1, ClickHouseHttp.Integer(r, "c")));
        Assert.Equal(ClickHouseSchema.Changes.Count, journal.Count);
        var partitioning = (await client.QueryAsync("SELECT engine FROM system.tables WHERE database = 'pasar_schema' AND name = 'viewing_events'", Ct)).Single();
        Assert.Equal("MergeTree", partitioning.GetProperty("engine").GetString());
    }

    [Fact]
    public async Task View_spans_added_to_a_database_with_events_fold_the_old_views_and_then_every_new_one()
    {
        await using var server = await ClickHouseTesting.StartOrSkipAsync();
        using var client = new ClickHouseHttp(new ClickHouseOptions { Url = server.Url, Database = "pasar_upgrade" });
        // A database as deployed before change 2: the events table and its journal line only.
        await client.ExecuteAsync("CREATE DATABASE pasar_upgrade", Ct);
        await client.ExecuteAsync("CREATE TABLE pasar_upgrade.schema_journal (version UInt32, name String, applied_at DateTime) ENGINE = MergeTree() ORDER BY version", Ct);
        await client.ExecuteAsync(ClickHouseSchema.Changes[0].Sql.Single().Replace("{db}", "pasar_upgrade", StringComparison.Ordinal), Ct);
        await client.InsertAsync("schema_journal", ["""{"version":1,"name":"viewing_events","applied_at":"2026-01-01 00:00:00"}"""], Ct);
        string Event(string id, string kind, string view, long atMs) => System.Text.Json.JsonSerializer.Serialize(new
        {
            event_id = id,
            kind,
            session_id = "s-up",
            seller_id = "seller-up",
            viewer_id = "v-" + view,
            user_id = "",
            view_id = view,
            product_id = "",
            flash_sale_id = "",
            amount_minor = 0,
            currency = "",
            at_ms = atMs,
            event_date = "2026-12-01",
        });
        await client.InsertAsync(ClickHouseSchema.EventsTable, [Event("a1", "view_start", "old", 1_000), Event("a2", "heartbeat", "old", 16_000)], Ct);

        Assert.Equal([2], await ClickHouseSchema.ApplyAsync(client, Ct));
        // After the change the materialized view folds new inserts, a retried one included.
        string[] late = [Event("b1", "view_start", "new", 5_000), Event("b2", "view_end", "new", 35_000), Event("b3", "heartbeat", "new", 20_000)];
        await client.InsertAsync(ClickHouseSchema.EventsTable, late, Ct);
        await client.InsertAsync(ClickHouseSchema.EventsTable, late, Ct);
        await client.InsertAsync(ClickHouseSchema.EventsTable, [Event("a3", "heartbeat", "old", 31_000)], Ct);

        var watched = (await client.QueryAsync("""
            SELECT view_id, if(maxMerge(has_end), minIfMerge(ended), maxMerge(last)) - minIfMerge(started) AS ms
            FROM pasar_upgrade.view_spans GROUP BY view_id ORDER BY view_id
            """, Ct)).Select(r => (r.GetProperty("view_id").GetString(), ClickHouseHttp.Integer(r, "ms"))).ToList();
        Assert.Equal([("new", 30_000L), ("old", 30_000L)], watched);
    }
}
