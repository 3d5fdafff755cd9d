using System.Buffers.Text;
using System.Text;

namespace Pasar.Server.Platform.Http;

/// <summary>A page of a list, newest first: <c>{items, nextCursor}</c>.</summary>
internal sealed record Page<T>(IReadOnlyList<T> Items, string? NextCursor);

/// <summary>
/// Keyset paging over (created_at, id), newest first. The cursor is the position of the last item
/// returned, so items written meanwhile neither repeat nor go missing.
/// </summary>
internal readonly record struct PageRequest(int Limit, long? BeforeTime, string? BeforeId)
{
    public const int DefaultLimit = 20;
    public const int MaxLimit = 100;

    /// <summary>Binds <c>?limit=</c> and <c>?cursor=</c>; adds field errors to <paramref name="validator"/> when they are bad.</summary>
    public static PageRequest From(int? limit, string? cursor, RequestValidator validator)
    {
        var size = limit ?? DefaultLimit;
        if (size < 1 || size > MaxLimit)
        {
            validator.Add("limit", $"limit must be between 1 and {MaxLimit}.");
        }

        long? time = null;
        string? id = null;
        if (!string.IsNullOrEmpty(cursor))
        {
            if (!TryDecode(cursor, out var t, out var i))
            {
                validator.Add("cursor", "cursor is not one this server issued.");
            }
            else
            {
                time = t;
                id = i;
            }
        }

        return new PageRequest(Math.Clamp(size, 1, MaxLimit), time, id);
    }

    /// <summary>Rows to fetch: one more than the page, to know whether a next page exists.</summary>
    public int FetchSize => Limit + 1;

    /// <summary>SQL fragment for "after the cursor" on the given columns, with parameters @beforeTime and @beforeId.</summary>
    public string Condition(string timeColumn, string idColumn) =>
        BeforeTime is null ? "1 = 1" : $"({timeColumn} < @beforeTime OR ({timeColumn} = @beforeTime AND {idColumn} < @beforeId))";

    public Page<TOut> ToPage<TRow, TOut>(IReadOnlyList<TRow> rows, Func<TRow, long> time, Func<TRow, string> id, Func<TRow, TOut> map)
    {
        var items = rows.Take(Limit).Select(map).ToList();
        string? next = null;
        if (rows.Count > Limit)
        {
            var last = rows[Limit - 1];
            next = Encode(time(last), id(last));
        }

        return new Page<TOut>(items, next);
    }

    internal static string Encode(long time, string id) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes($"{time}|{id}"));

    private static bool TryDecode(string cursor, out long time, out string id)
    {
        time = 0;
        id = "";
        try
        {
            var text = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(cursor));
            var bar = text.IndexOf('|', StringComparison.Ordinal);
            if (bar <= 0 || !long.TryParse(text.AsSpan(0, bar), System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out time))
            {
                return false;
            }

            id = text[(bar + 1)..];
            return id.Length is > 0 and <= 64;
        }
        catch (FormatException)
        {
            return false;
        }
    }
}

/// <summary>The common shape of a list endpoint: bind the page, run a keyset query, return the page.</summary>
internal static class PagedQuery
{
    /// <summary>Binds <c>?limit=</c> and <c>?cursor=</c>; null and a validation problem when they are bad.</summary>
    public static PageRequest? Bind(int? limit, string? cursor, out Microsoft.AspNetCore.Http.HttpResults.ValidationProblem? problem)
    {
        var v = new RequestValidator();
        var page = PageRequest.From(limit, cursor, v);
        problem = v.IsValid ? null : ApiProblem.Validation(v.Errors);
        return v.IsValid ? page : null;
    }

    /// <summary>
    /// Runs <paramref name="sql"/> (which uses <c>@beforeTime</c>, <c>@beforeId</c> through
    /// <see cref="PageRequest.Condition"/>, and <c>LIMIT @fetch</c>) with <paramref name="args"/> and maps a page.
    /// </summary>
    public static async Task<Page<TOut>> QueryPageAsync<TRow, TOut>(
        this Storage.Database db, PageRequest page, string sql, object args, Func<TRow, long> time, Func<TRow, string> id, Func<TRow, TOut> map, CancellationToken ct)
    {
        var parameters = new Dapper.DynamicParameters(args);
        parameters.Add("beforeTime", page.BeforeTime);
        parameters.Add("beforeId", page.BeforeId);
        parameters.Add("fetch", page.FetchSize);
        await using var c = await db.OpenAsync(ct);
        var rows = Dapper.SqlMapper.AsList(await Dapper.SqlMapper.QueryAsync<TRow>(c, new Dapper.CommandDefinition(sql, parameters, cancellationToken: ct)));
        return page.ToPage(rows, time, id, map);
    }
}
