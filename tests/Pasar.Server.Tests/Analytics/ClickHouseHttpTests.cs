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
}
