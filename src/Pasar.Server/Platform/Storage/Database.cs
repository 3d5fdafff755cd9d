using System.Data;
using System.Data.Common;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Options;
using Npgsql;
using Polly;

namespace Pasar.Server.Platform.Storage;

/// <summary>
/// The system of record. The same SQL runs on SQLite and PostgreSQL: ids are text, times are
/// Unix milliseconds in BIGINT columns, booleans are 0/1 integers, and upserts use ON CONFLICT.
/// </summary>
internal sealed class Database : IAsyncDisposable
{
    // SQLite has one writer at a time. Queuing writers here, in-process, is cheaper than letting them
    // spin on SQLITE_BUSY, and keeps BEGIN IMMEDIATE from ever waiting on another connection of ours.
    private readonly SemaphoreSlim _sqliteWriter = new(1, 1);
    private readonly NpgsqlDataSource? _postgres;
    private readonly string? _sqliteConnectionString;
    private readonly ResiliencePipeline _retry;

    public Database(IOptions<PasarOptions> options)
    {
        var o = options.Value;
        Provider = o.Database.Provider;
        _retry = StoreResilience.CreateSql(() => _postgres?.Clear());
        if (Provider == DatabaseProvider.Postgres)
        {
            _postgres = NpgsqlDataSource.Create(o.Database.ConnectionString!);
        }
        else
        {
            Directory.CreateDirectory(o.FullDataDir);
            _sqliteConnectionString = new SqliteConnectionStringBuilder
            {
                DataSource = Path.Combine(o.FullDataDir, "pasar.db"),
                Pooling = true,
                DefaultTimeout = 30,
                ForeignKeys = true,
            }.ToString();
        }
    }

    public DatabaseProvider Provider { get; }

    public string? SqliteConnectionString => _sqliteConnectionString;

    public string? PostgresConnectionString => _postgres?.ConnectionString;

    /// <summary>Opens a connection, retrying briefly (<see cref="StoreResilience.CreateSql"/>) when the database is not reachable.</summary>
    public Task<DbConnection> OpenAsync(CancellationToken ct) =>
        _retry.ExecuteAsync(static async (self, token) => await self.OpenOnceAsync(token), this, ct).AsTask();

    private async Task<DbConnection> OpenOnceAsync(CancellationToken ct)
    {
        if (_postgres is not null)
        {
            return await _postgres.OpenConnectionAsync(ct);
        }

        var connection = new SqliteConnection(_sqliteConnectionString);
        try
        {
            await connection.OpenAsync(ct);
            using var pragma = connection.CreateCommand();
            // WAL lets readers run beside the writer; NORMAL sync is durable across a process crash (kill -9),
            // which is the failure this embedded mode guards against.
            pragma.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=30000;";
            await pragma.ExecuteNonQueryAsync(ct);
            return connection;
        }
        catch
        {
            await connection.DisposeAsync();
            throw;
        }
    }

    /// <summary>Runs <paramref name="work"/> in one transaction; commits when it returns, rolls back when it throws.</summary>
    public async Task<T> InTransactionAsync<T>(Func<DbConnection, DbTransaction, Task<T>> work, CancellationToken ct)
    {
        var heldWriter = false;
        if (Provider == DatabaseProvider.Sqlite)
        {
            await _sqliteWriter.WaitAsync(ct);
            heldWriter = true;
        }

        try
        {
            // A transaction that failed transiently (SQLite busy, a dropped or refused PostgreSQL connection,
            // a serialization failure) rolled back whole, so it is run again from the start: the work may run
            // more than once, and only its SQL effects count.
            return await _retry.ExecuteAsync(static async (state, token) =>
            {
                var (self, work) = state;
                await using var connection = await self.OpenOnceAsync(token);
                await using var tx = await connection.BeginTransactionAsync(IsolationLevel.ReadCommitted, token);
                var result = await work(connection, tx);
                if (result is ITransactionOutcome { Commit: false })
                {
                    await tx.RollbackAsync(CancellationToken.None);
                    return result;
                }

                try
                {
                    await tx.CommitAsync(CancellationToken.None);
                }
                catch (NpgsqlException ex) when (ex is not PostgresException)
                {
                    // The server may have committed before the connection broke: never run this again here.
                    throw new StoreCommitUnknownException(ex);
                }

                return result;
            }, (this, work), ct);
        }
        finally
        {
            if (heldWriter)
            {
                _sqliteWriter.Release();
            }
        }
    }

    public Task InTransactionAsync(Func<DbConnection, DbTransaction, Task> work, CancellationToken ct) =>
        InTransactionAsync<bool>(async (c, t) =>
        {
            await work(c, t);
            return true;
        }, ct);

    public async ValueTask DisposeAsync()
    {
        if (_postgres is not null)
        {
            await _postgres.DisposeAsync();
        }

        if (_sqliteConnectionString is not null)
        {
            SqliteConnection.ClearAllPools();
        }

        _sqliteWriter.Dispose();
    }
}

/// <summary>A transaction result that can ask for a rollback without throwing (a business rule said no).</summary>
internal interface ITransactionOutcome
{
    bool Commit { get; }
}
