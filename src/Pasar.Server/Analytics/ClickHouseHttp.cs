using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Pasar.Server.Analytics;

/// <summary>ClickHouse answered with an error (<c>Code: N, … DB::Exception: …</c>); the message is ClickHouse's.</summary>
internal sealed class ClickHouseException(int code, string message) : Exception(message)
{
    public int Code { get; } = code;

    /// <summary>Unknown user, wrong password, or not allowed from this address (192, 193, 195, 516).</summary>
    public bool IsAuthentication => Code is 192 or 193 or 195 or 516;
}

/// <summary>ClickHouse could not be reached (refused, reset, timed out).</summary>
internal sealed class ClickHouseUnavailableException(string message, Exception inner) : Exception(message, inner);

/// <summary>
/// The whole ClickHouse client: its HTTP interface, with only what both Debian's 18.16 and current releases have
/// (ADR 0018). Statements go as the POST body; inserts put <c>INSERT … FORMAT JSONEachRow</c> in the
/// <c>query</c> parameter and the rows in the body; queries end in <c>FORMAT JSON</c>. 18.16 has no query
/// parameters, so values are escaped here (<see cref="Quote"/>). Credentials go as <c>user</c>/<c>password</c>
/// parameters, which every version accepts.
/// </summary>
internal sealed partial class ClickHouseHttp : IDisposable
{
    private readonly HttpClient _http;
    private readonly string _credentials;

    public ClickHouseHttp(ClickHouseOptions options, TimeSpan? timeout = null)
    {
        if (!Uri.TryCreate(options.Url, UriKind.Absolute, out var url) || url.Scheme is not ("http" or "https"))
        {
            throw new ArgumentException("Pasar:Analytics:ClickHouse:Url must be an absolute http(s) URL.");
        }

        if (!IsIdentifier(options.Database))
        {
            throw new ArgumentException("Pasar:Analytics:ClickHouse:Database must be letters, digits and '_', not starting with a digit.");
        }

        Database = options.Database;
        Url = url;
        _http = new HttpClient { BaseAddress = url, Timeout = timeout ?? TimeSpan.FromSeconds(30) };
        _credentials = $"user={Uri.EscapeDataString(options.User)}&password={Uri.EscapeDataString(options.Password ?? "")}";
    }

    public Uri Url { get; }

    public string Database { get; }

    public static bool IsIdentifier(string? name) => name is not null && Identifier().IsMatch(name);

    /// <summary>A string literal for ClickHouse SQL: quoted, with backslash and quote escaped.</summary>
    public static string Quote(string value) => "'" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("'", "\\'", StringComparison.Ordinal) + "'";

    /// <summary>Runs a statement (DDL, ALTER) and returns ClickHouse's text answer.</summary>
    public Task<string> ExecuteAsync(string sql, CancellationToken ct) =>
        SendAsync($"/?{_credentials}", new StringContent(sql, Encoding.UTF8, "text/plain"), ct);

    /// <summary>Inserts rows, one JSON object a line, into <paramref name="table"/> of the database.</summary>
    public async Task InsertAsync(string table, IReadOnlyCollection<string> jsonLines, CancellationToken ct)
    {
        if (jsonLines.Count == 0)
        {
            return;
        }

        var body = new StringBuilder(jsonLines.Sum(l => l.Length + 1));
        foreach (var line in jsonLines)
        {
            body.Append(line).Append('\n');
        }

        var query = Uri.EscapeDataString($"INSERT INTO {Database}.{table} FORMAT JSONEachRow");
        await SendAsync($"/?{_credentials}&query={query}", new StringContent(body.ToString(), Encoding.UTF8, "application/json"), ct);
    }

    /// <summary>Runs a SELECT with <c>FORMAT JSON</c> and returns its rows (64-bit integers arrive as strings).</summary>
    public async Task<IReadOnlyList<JsonElement>> QueryAsync(string sql, CancellationToken ct)
    {
        var text = await SendAsync($"/?{_credentials}", new StringContent(sql + "\nFORMAT JSON", Encoding.UTF8, "text/plain"), ct);
        using var json = JsonDocument.Parse(text);
        return [.. json.RootElement.GetProperty("data").EnumerateArray().Select(r => r.Clone())];
    }

    /// <summary>A number from a FORMAT JSON row, whether ClickHouse wrote it as a number or (64-bit) as a string.</summary>
    public static double Number(JsonElement row, string name)
    {
        var value = row.GetProperty(name);
        return value.ValueKind == JsonValueKind.String
            ? double.Parse(value.GetString()!, System.Globalization.CultureInfo.InvariantCulture)
            : value.ValueKind == JsonValueKind.Null ? 0 : value.GetDouble();
    }

    public static long Integer(JsonElement row, string name) => (long)Math.Round(Number(row, name));

    private async Task<string> SendAsync(string pathAndQuery, HttpContent content, CancellationToken ct)
    {
        HttpResponseMessage response;
        try
        {
            response = await _http.PostAsync(pathAndQuery, content, ct);
        }
        catch (HttpRequestException ex)
        {
            throw new ClickHouseUnavailableException($"ClickHouse at {Url} is unreachable: {ex.Message}", ex);
        }
        catch (TaskCanceledException ex) when (!ct.IsCancellationRequested)
        {
            throw new ClickHouseUnavailableException($"ClickHouse at {Url} did not answer within {_http.Timeout.TotalSeconds:F0} s", ex);
        }

        using (response)
        {
            string body;
            try
            {
                body = await response.Content.ReadAsStringAsync(ct);
            }
            catch (HttpRequestException ex)
            {
                throw new ClickHouseUnavailableException($"ClickHouse at {Url} broke the connection: {ex.Message}", ex);
            }

            if (response.IsSuccessStatusCode)
            {
                return body;
            }

            var code = ErrorCode().Match(body) is { Success: true } m ? int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
            throw new ClickHouseException(code, $"ClickHouse answered {(int)response.StatusCode}: {body.Trim()}");
        }
    }

    public void Dispose() => _http.Dispose();

    [GeneratedRegex("^[A-Za-z_][A-Za-z0-9_]{0,62}$")]
    private static partial Regex Identifier();

    [GeneratedRegex(@"Code:\s*(\d+)")]
    private static partial Regex ErrorCode();
}
