using System.Net.Http.Json;
using System.Text.Json;
using Pasar.Server.Tests.Infrastructure;
using Pasar.Testing;

namespace Pasar.Server.Tests.Analytics;

/// <summary>The ClickHouse fixture starts a real server that takes inserts and answers queries, and survives a kill.</summary>
public sealed class ClickHouseServerTests
{
    private static async Task<ClickHouseServer> StartOrSkipAsync()
    {
        try
        {
            return await ClickHouseServer.StartAsync();
        }
        catch (ServerUnavailableException ex)
        {
            if (ExternalServers.InCi)
            {
                Assert.Fail($"CI=true but clickhouse-server is missing: {ex.Message}");
            }

            Assert.Skip($"ClickHouse unavailable here: {ex.Message}");
            throw;
        }
    }

    private static async Task<string> QueryAsync(HttpClient http, string url, string sql)
    {
        using var response = await http.PostAsync(url + "/", new StringContent(sql), TestContext.Current.CancellationToken);
        var body = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.True(response.IsSuccessStatusCode, body);
        return body;
    }

    [Fact]
    public async Task Server_takes_rows_answers_uniqExact_and_keeps_them_across_a_kill()
    {
        await using var server = await StartOrSkipAsync();
        using var http = new HttpClient();
        await QueryAsync(http, server.Url, "CREATE TABLE t (id String, v UInt32) ENGINE = MergeTree ORDER BY id");
        await QueryAsync(http, server.Url, "INSERT INTO t FORMAT JSONEachRow\n{\"id\":\"a\",\"v\":1}\n{\"id\":\"b\",\"v\":2}\n{\"id\":\"a\",\"v\":1}\n");
        var json = JsonDocument.Parse(await QueryAsync(http, server.Url, "SELECT uniqExact(id) AS n, sum(v) AS s FROM t FORMAT JSON"));
        var row = json.RootElement.GetProperty("data")[0];
        Assert.Equal("2", row.GetProperty("n").GetString());
        Assert.Equal("4", row.GetProperty("s").GetString());

        await server.KillAsync();
        await Assert.ThrowsAsync<HttpRequestException>(() => http.GetStringAsync(server.Url + "/ping", TestContext.Current.CancellationToken));
        await server.StartAgainAsync();
        Assert.Equal("3", (await QueryAsync(http, server.Url, "SELECT count() FROM t")).Trim());
    }
}
