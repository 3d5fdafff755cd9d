using System.Net.Sockets;
using Microsoft.Data.Sqlite;
using Npgsql;
using Polly;
using Polly.Retry;
using StackExchange.Redis;

namespace Pasar.Server.Platform.Storage;

/// <summary>
/// Which failures mean "a store is unavailable right now" rather than "this request or this code is wrong",
/// in one place: the retry pipelines retry them, background loops wait them out, and requests that meet them
/// are answered <c>503 STORE_UNAVAILABLE</c> (SPEC §17).
/// </summary>
internal static class StoreFaults
{
    public static bool IsUnavailable(Exception exception)
    {
        for (var ex = exception; ex is not null; ex = ex.InnerException)
        {
            switch (ex)
            {
                case StoreCommitUnknownException:
                case RedisConnectionException:
                case RedisTimeoutException:
                case SocketException:
                case TimeoutException:
                    return true;
                case PostgresException pg:
                    // A server that answered: only its "going away / not ready / overloaded / conflict" states are
                    // transient (57P01 admin shutdown, 57P03 starting up, 53300 too many connections, 40001 …).
                    return pg.IsTransient || pg.SqlState.StartsWith("08", StringComparison.Ordinal);
                case NpgsqlException npgsql:
                    // Client-side: the connection could not be made, broke, or the pool timed out.
                    return npgsql.IsTransient || npgsql.InnerException is IOException or SocketException or TimeoutException;
                case SqliteException sqlite:
                    return IsSqliteBusy(sqlite);
                case AggregateException aggregate:
                    return aggregate.InnerExceptions.Any(IsUnavailable);
            }
        }

        return false;
    }

    /// <summary>SQLITE_BUSY / SQLITE_LOCKED: a checkpoint or a reader's snapshot was in the way; the transaction rolled back whole.</summary>
    public static bool IsSqliteBusy(SqliteException ex) => ex.SqliteErrorCode is 5 or 6;

    /// <summary>A short text for a log line: the exception's type and message, without the stack.</summary>
    public static string Describe(Exception ex)
    {
        var inner = ex.GetBaseException();
        return ReferenceEquals(inner, ex) ? $"{ex.GetType().Name}: {ex.Message}" : $"{ex.GetType().Name}: {ex.Message} ({inner.GetType().Name}: {inner.Message})";
    }
}

/// <summary>
/// The connection broke while PostgreSQL was committing: the transaction may or may not have committed, so it is
/// never run again here. The caller sees 503; a client retry with its Idempotency-Key replays or redoes it.
/// </summary>
internal sealed class StoreCommitUnknownException(Exception inner)
    : Exception("The database connection was lost during COMMIT; the outcome is unknown.", inner);

/// <summary>
/// One retry pipeline per kind of store. Retries are short (well under two seconds in all), so a request meets
/// 503 quickly when a store is really gone; long outages are waited out by the background loops instead.
/// Delays are real time: they wait for I/O, not for the domain clock a test may freeze.
/// </summary>
internal static class StoreResilience
{
    /// <summary>
    /// SQL transactions and connection opens (one per <see cref="Database"/>): a transaction that failed transiently
    /// rolled back whole and is run again. <paramref name="connectionsLost"/> runs before a retry that follows a lost
    /// connection, so that the pool's other idle connections to a restarted server are dropped instead of each
    /// failing one more request.
    /// </summary>
    public static ResiliencePipeline CreateSql(Action connectionsLost) => new ResiliencePipelineBuilder
    {
        Name = "sql",
    }.AddRetry(new RetryStrategyOptions
    {
        ShouldHandle = new PredicateBuilder().Handle<Exception>(ex => ex is not StoreCommitUnknownException and not OperationCanceledException && StoreFaults.IsUnavailable(ex)),
        MaxRetryAttempts = 3,
        BackoffType = DelayBackoffType.Exponential,
        UseJitter = true,
        Delay = TimeSpan.FromMilliseconds(50),
        MaxDelay = TimeSpan.FromMilliseconds(500),
        OnRetry = args =>
        {
            if (args.Outcome.Exception is NpgsqlException { InnerException: IOException or SocketException } or PostgresException { SqlState: "57P01" or "57P02" or "57P03" })
            {
                connectionsLost();
            }

            return ValueTask.CompletedTask;
        },
    }).Build();

    /// <summary>
    /// Redis/Garnet commands that are safe to send again (reads, SETs, and scripts that record their attempt id).
    /// A timed-out command may still run on the server, so only idempotent ones go through this.
    /// </summary>
    public static ResiliencePipeline Hot { get; } = new ResiliencePipelineBuilder
    {
        Name = "hot",
    }.AddRetry(new RetryStrategyOptions
    {
        ShouldHandle = new PredicateBuilder().Handle<Exception>(ex => ex is not OperationCanceledException && StoreFaults.IsUnavailable(ex)),
        MaxRetryAttempts = 2,
        BackoffType = DelayBackoffType.Exponential,
        UseJitter = true,
        Delay = TimeSpan.FromMilliseconds(100),
        MaxDelay = TimeSpan.FromMilliseconds(500),
    }).Build();

    /// <summary>How long a background loop waits after its <paramref name="failures"/>-th failure in a row: 0.5 s doubling to 5 s.</summary>
    public static TimeSpan LoopBackoff(int failures) =>
        TimeSpan.FromMilliseconds(Math.Min(5000, 500 * Math.Pow(2, Math.Clamp(failures - 1, 0, 10))));
}
