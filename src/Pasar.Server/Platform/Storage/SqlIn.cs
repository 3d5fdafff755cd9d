using Dapper;

namespace Pasar.Server.Platform.Storage;

/// <summary>
/// An <c>IN (…)</c> list as named parameters. Not Dapper's <c>IN @list</c>: Dapper hands a list to Npgsql as one
/// array parameter, which <c>IN</c> does not take, while SQLite needs the expansion. This text runs on both.
/// </summary>
internal static class SqlIn
{
    /// <returns>The list to write inside <c>IN (…)</c>, and its parameters (<c>@in0</c>, <c>@in1</c>, …).</returns>
    public static (string List, DynamicParameters Parameters) Of(IReadOnlyList<string> values)
    {
        var parameters = new DynamicParameters();
        for (var i = 0; i < values.Count; i++)
        {
            parameters.Add($"in{i}", values[i]);
        }

        return (string.Join(", ", values.Select((_, i) => $"@in{i}")), parameters);
    }
}
