using System.Data.Common;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Dapper;

namespace Pasar.Server.Platform.Http;

/// <summary>
/// Idempotency-Key handling inside the caller's transaction. The key row is inserted first: a concurrent
/// request with the same key waits on it (PostgreSQL row lock; SQLite's single writer) and then replays
/// the committed response. A request that fails rolls its key back with it, so it can be retried.
/// </summary>
internal sealed class IdempotencyStore(TimeProvider time, Pasar.Server.Platform.Storage.Database database)
{
    /// <summary>
    /// Runs <paramref name="work"/> in one transaction guarded by the Idempotency-Key (when one is given):
    /// a retry with the same key and body gets the first success again; a refusal commits nothing and keeps
    /// the key free.
    /// </summary>
    public Task<CommandOutcome<T>> ExecuteAsync<T>(
        string userId, string? key, string scope, string requestHash,
        Func<DbConnection, DbTransaction, Task<CommandOutcome<T>>> work, CancellationToken ct) where T : class =>
        database.InTransactionAsync(async (c, tx) =>
        {
            if (key is not null)
            {
                var claim = await ClaimAsync(c, tx, userId, key, scope, requestHash, ct);
                if (claim.State == IdempotencyState.Mismatch)
                {
                    return CommandOutcome<T>.Refused(Mismatch());
                }

                if (claim.State == IdempotencyState.Replay)
                {
                    return new CommandOutcome<T>(ReadResponse<T>(claim), null, Replayed: true);
                }
            }

            var outcome = await work(c, tx);
            if (key is not null && outcome.Value is not null)
            {
                await CompleteAsync(c, tx, userId, key, StatusCodes.Status201Created, outcome.Value, ct);
            }

            return outcome;
        }, ct);

    public const string Header = "Idempotency-Key";

    public static bool IsValidKey(string key) => key.Length is >= 1 and <= 255 && key.All(c => c is >= '!' and <= '~');

    public static string HashRequest<T>(string scope, T body) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes(scope + "\n" + JsonSerializer.Serialize(body, JsonSerializerOptions.Web))));

    public async Task<IdempotencyClaim> ClaimAsync(DbConnection c, DbTransaction tx, string userId, string key, string scope, string requestHash, CancellationToken ct)
    {
        var inserted = await c.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO idempotency_keys (user_id, idem_key, scope, request_hash, status_code, response_body, created_at)
            VALUES (@userId, @key, @scope, @requestHash, 0, '', @now) ON CONFLICT DO NOTHING
            """,
            new { userId, key, scope, requestHash, now = time.GetUtcNow().ToUnixTimeMilliseconds() }, tx, cancellationToken: ct));
        if (inserted == 1)
        {
            return IdempotencyClaim.First;
        }

        var row = await c.QuerySingleAsync<(string Scope, string RequestHash, int StatusCode, string ResponseBody)>(new CommandDefinition(
            "SELECT scope, request_hash, status_code, response_body FROM idempotency_keys WHERE user_id = @userId AND idem_key = @key",
            new { userId, key }, tx, cancellationToken: ct));
        return row.Scope == scope && row.RequestHash == requestHash
            ? new IdempotencyClaim(IdempotencyState.Replay, row.StatusCode, row.ResponseBody)
            : new IdempotencyClaim(IdempotencyState.Mismatch, 0, null);
    }

    /// <summary>The stored outcome of a key, read outside any claim (a fast path that finds a replay before taking a lock).</summary>
    public static async Task<(string RequestHash, int StatusCode, string ResponseBody)?> FindAsync(DbConnection c, string userId, string key, CancellationToken ct) =>
        await c.QuerySingleOrDefaultAsync<(string RequestHash, int StatusCode, string ResponseBody)?>(new CommandDefinition(
            "SELECT request_hash, status_code, response_body FROM idempotency_keys WHERE user_id = @userId AND idem_key = @key",
            new { userId, key }, cancellationToken: ct));

    /// <summary>
    /// The keys under which requests of <paramref name="scope"/> completed with a 201 (index <c>idempotency_keys_scope</c>):
    /// what a module keeps to tell a true retry from a new tap without a read per request.
    /// </summary>
    public static async Task<IReadOnlyList<(string UserId, string Key)>> SucceededKeysAsync(DbConnection c, string scope, CancellationToken ct) =>
        [.. await c.QueryAsync<(string, string)>(new CommandDefinition(
            "SELECT user_id, idem_key FROM idempotency_keys WHERE scope = @scope AND status_code = 201", new { scope }, cancellationToken: ct))];

    public Task CompleteAsync<T>(DbConnection c, DbTransaction tx, string userId, string key, int statusCode, T response, CancellationToken ct) =>
        c.ExecuteAsync(new CommandDefinition(
            "UPDATE idempotency_keys SET status_code = @statusCode, response_body = @body WHERE user_id = @userId AND idem_key = @key",
            new { statusCode, body = JsonSerializer.Serialize(response, JsonSerializerOptions.Web), userId, key }, tx, cancellationToken: ct));

    public static T ReadResponse<T>(IdempotencyClaim claim) =>
        JsonSerializer.Deserialize<T>(claim.ResponseBody!, JsonSerializerOptions.Web) ?? throw new InvalidOperationException("Stored idempotent response is empty.");

    public static Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult Mismatch() =>
        ApiProblem.Create(StatusCodes.Status422UnprocessableEntity, "IDEMPOTENCY_MISMATCH", "Idempotency-Key reused with a different request",
            "This Idempotency-Key was already used with a different body. Use a new key for a new request.");

    public static Microsoft.AspNetCore.Http.HttpResults.ValidationProblem InvalidKey() =>
        ApiProblem.Validation(new Dictionary<string, string[]> { [Header] = ["Idempotency-Key must be 1 to 255 visible ASCII characters."] });
}

internal enum IdempotencyState
{
    First,
    Replay,
    Mismatch,
}

internal sealed record IdempotencyClaim(IdempotencyState State, int StatusCode, string? ResponseBody)
{
    public static readonly IdempotencyClaim First = new(IdempotencyState.First, 0, null);
}

/// <summary>A command's success value, or the problem that refused it (and rolled its transaction back).</summary>
internal sealed record CommandOutcome<T>(T? Value, Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult? Problem, bool Replayed = false) : Pasar.Server.Platform.Storage.ITransactionOutcome
    where T : class
{
    public bool Commit => Value is not null;

    public static CommandOutcome<T> Refused(Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult problem) => new(null, problem);
}
