using System.Data.Common;
using System.Threading.Channels;

namespace Pasar.Server.Platform.Storage;

/// <summary>
/// Collects small writes (chat messages, view heartbeats) and commits them in batches: one transaction per
/// tick or per <see cref="MaxBatch"/> items. <see cref="FlushAsync"/> completes once everything queued before
/// it is committed. When the database is unavailable the loop keeps what it holds, waits and tries again, so
/// accepted items are written once the database is back; a clean shutdown drains the queue, and only a stop
/// while the database is still gone fails the waiting flushes (after <see cref="ShutdownBudget"/>).
/// </summary>
internal abstract class BatchedWriter<T>(Database database, ILogger logger, int capacity = 0) : BackgroundService
{
    // capacity > 0 bounds the queue: Enqueue then refuses (returns false) when it is full, rather than growing.
    private readonly Channel<(T? Item, TaskCompletionSource? Flushed)> _queue = capacity > 0
        ? Channel.CreateBounded<(T?, TaskCompletionSource?)>(new BoundedChannelOptions(capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait })
        : Channel.CreateUnbounded<(T?, TaskCompletionSource?)>(new UnboundedChannelOptions { SingleReader = true });

    protected virtual int MaxBatch => 500;

    protected virtual TimeSpan Tick => TimeSpan.FromMilliseconds(50);

    /// <summary>How long a stopping host keeps trying to write what is queued when the database is unavailable.</summary>
    protected virtual TimeSpan ShutdownBudget => TimeSpan.FromSeconds(10);

    /// <summary>Queues an item; false when a bounded queue is full and the item was not taken.</summary>
    public bool Enqueue(T item) => _queue.Writer.TryWrite((item, null));

    public Task FlushAsync()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return _queue.Writer.TryWrite((default, done)) ? done.Task : WaitForRoomAsync(done);
    }

    // A full bounded queue: the flush marker waits for room (items are dropped when full, a flush never is).
    // A queue closed at shutdown has nothing more to wait for, so the flush returns at once.
    private async Task WaitForRoomAsync(TaskCompletionSource done)
    {
        try
        {
            await _queue.Writer.WriteAsync((default, done));
        }
        catch (ChannelClosedException)
        {
            return;
        }

        await done.Task;
    }

    protected abstract Task WriteAsync(DbConnection c, DbTransaction tx, IReadOnlyList<T> batch, CancellationToken ct);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var batch = new List<T>(MaxBatch);
        var waiting = new List<TaskCompletionSource>();
        var reader = _queue.Reader;
        try
        {
            while (await reader.WaitToReadAsync(stoppingToken))
            {
                await Task.Delay(Tick, stoppingToken);
                await DrainAsync(reader, batch, waiting, stoppingToken);
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }

        // Shutdown: nothing more is accepted (a later FlushAsync returns at once instead of waiting on a queue
        // nobody reads), and whatever was accepted before the stop is written, if the database lets us in time.
        _queue.Writer.TryComplete();
        using var budget = new CancellationTokenSource(ShutdownBudget);
        try
        {
            await DrainAsync(reader, batch, waiting, budget.Token);
        }
        catch (OperationCanceledException)
        {
            logger.LogError("{Writer} stopped with {Count} items it could not write: the database stayed unavailable", GetType().Name, batch.Count);
            var stopped = new OperationCanceledException("The host stopped before the queued writes could be committed.");
            foreach (var w in waiting)
            {
                w.TrySetException(stopped);
            }

            while (reader.TryRead(out var entry))
            {
                entry.Flushed?.TrySetException(stopped);
            }
        }
    }

    private async Task DrainAsync(ChannelReader<(T? Item, TaskCompletionSource? Flushed)> reader, List<T> batch, List<TaskCompletionSource> waiting, CancellationToken ct)
    {
        while (reader.TryRead(out var entry))
        {
            if (entry.Flushed is not null)
            {
                waiting.Add(entry.Flushed);
            }
            else
            {
                batch.Add(entry.Item!);
            }

            if (batch.Count >= MaxBatch)
            {
                await CommitAsync(batch, ct);
            }
        }

        await CommitAsync(batch, ct);
        foreach (var w in waiting)
        {
            w.TrySetResult();
        }

        waiting.Clear();
    }

    /// <summary>
    /// Commits <paramref name="batch"/> and clears it. An unavailable database is waited out (the batch stays);
    /// only <paramref name="ct"/> ends the wait. A batch the database refuses for another reason is written item by
    /// item, so one bad item is dropped (and logged) instead of blocking everything behind it.
    /// </summary>
    private async Task CommitAsync(List<T> batch, CancellationToken ct, bool single = false)
    {
        if (batch.Count == 0)
        {
            return;
        }

        for (var failures = 0; ; failures++)
        {
            try
            {
                await database.InTransactionAsync((c, tx) => WriteAsync(c, tx, batch, CancellationToken.None), ct);
                if (failures > 0)
                {
                    logger.LogInformation("{Writer} wrote {Count} held items: the database is back", GetType().Name, batch.Count);
                }

                batch.Clear();
                return;
            }
            catch (Exception ex) when (StoreFaults.IsUnavailable(ex))
            {
                if (failures == 0 || failures % 10 == 0)
                {
                    logger.LogWarning("{Writer} holds {Count} items while the database is unavailable ({Error}); retrying", GetType().Name, batch.Count, StoreFaults.Describe(ex));
                }

                await Task.Delay(StoreResilience.LoopBackoff(failures + 1), ct);
            }
            catch (Exception ex) when (ex is not OperationCanceledException && !single)
            {
                await CommitOneByOneAsync(batch, ex, ct);
                return;
            }
        }
    }

    private async Task CommitOneByOneAsync(List<T> batch, Exception batchError, CancellationToken ct)
    {
        logger.LogWarning("{Writer} batch of {Count} was refused ({Error}); writing its items one by one", GetType().Name, batch.Count, StoreFaults.Describe(batchError));
        var items = batch.ToList();
        batch.Clear();
        foreach (var item in items)
        {
            batch.Add(item);
            try
            {
                await CommitAsync(batch, ct, single: true);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                logger.LogError(ex, "{Writer} dropped an item the database refuses", GetType().Name);
                batch.Clear();
            }
        }
    }
}
