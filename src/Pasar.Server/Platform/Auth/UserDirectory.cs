using System.Collections.Concurrent;
using System.Data.Common;
using Dapper;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Platform.Auth;

internal sealed record UserRecord(string Id, string Name, string Role);

/// <summary>
/// Records each user the first time a valid token is seen for them (and again when the token's name or
/// role changes), so that, for example, a seller exists for followers once it has signed in. A recorded seller
/// stays a seller whatever role a later token carries (ADR 0008): the directory says who has a shop, and a buyer
/// or admin token for the same <c>sub</c> must not make that shop, its followers and its profile vanish.
/// What a request may do is always decided by its own token's role, never by this table.
/// </summary>
internal sealed class UserDirectory(Database database, TimeProvider time)
{
    private readonly ConcurrentDictionary<string, UserRecord> _seen = new(StringComparer.Ordinal);

    public async Task EnsureAsync(UserRecord user, CancellationToken ct)
    {
        if (_seen.TryGetValue(user.Id, out var known) && known == user)
        {
            return;
        }

        await database.InTransactionAsync(async (c, tx) =>
            await c.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO users (id, name, role, created_at) VALUES (@Id, @Name, @Role, @now)
                ON CONFLICT (id) DO UPDATE SET name = excluded.name,
                    role = CASE WHEN users.role = 'seller' THEN users.role ELSE excluded.role END
                """,
                new { user.Id, user.Name, user.Role, now = time.GetUtcNow().ToUnixTimeMilliseconds() }, tx, cancellationToken: ct)), ct);
        _seen[user.Id] = user;
    }

    /// <summary>A recorded user, read in the caller's transaction (or none).</summary>
    public static async Task<UserRecord?> FindAsync(DbConnection c, DbTransaction? tx, string id, CancellationToken ct) =>
        await c.QuerySingleOrDefaultAsync<UserRecord>(new CommandDefinition(
            "SELECT id AS Id, name AS Name, role AS Role FROM users WHERE id = @id", new { id }, tx, cancellationToken: ct));

    /// <summary>The names of the recorded users among <paramref name="ids"/>.</summary>
    public static async Task<IReadOnlyDictionary<string, string>> NamesAsync(DbConnection c, IReadOnlyList<string> ids, CancellationToken ct)
    {
        if (ids.Count == 0)
        {
            return new Dictionary<string, string>();
        }

        var (list, parameters) = SqlIn.Of(ids);
        var sql = $"SELECT id, name FROM users WHERE id IN ({list})";
        return (await c.QueryAsync<(string Id, string Name)>(new CommandDefinition(sql, parameters, cancellationToken: ct)))
            .ToDictionary(u => u.Id, u => u.Name, StringComparer.Ordinal);
    }

    /// <summary>Whether <paramref name="id"/> is recorded, read in the caller's transaction.</summary>
    public static async Task<bool> ExistsAsync(DbConnection c, DbTransaction tx, string id, CancellationToken ct) =>
        await c.ExecuteScalarAsync<long>(new CommandDefinition("SELECT COUNT(*) FROM users WHERE id = @id", new { id }, tx, cancellationToken: ct)) > 0;

    /// <summary>Records <paramref name="user"/> unless it is recorded already, in the caller's transaction (the demo seed).</summary>
    public static async Task AddIfAbsentAsync(DbConnection c, DbTransaction tx, UserRecord user, DateTimeOffset at, CancellationToken ct) =>
        await c.ExecuteAsync(new CommandDefinition(
            "INSERT INTO users (id, name, role, created_at) VALUES (@Id, @Name, @Role, @at) ON CONFLICT DO NOTHING",
            new { user.Id, user.Name, user.Role, at = at.ToUnixTimeMilliseconds() }, tx, cancellationToken: ct));

    public async Task<UserRecord?> FindAsync(string id, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        return await c.QuerySingleOrDefaultAsync<UserRecord>(new CommandDefinition(
            "SELECT id AS Id, name AS Name, role AS Role FROM users WHERE id = @id", new { id }, cancellationToken: ct));
    }
}
