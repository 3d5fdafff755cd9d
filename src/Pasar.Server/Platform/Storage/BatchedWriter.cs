using System.Data.Common;
using System.Threading.Channels;

namespace Pasar.Server.Platform.Storage;

/// <summary>
/// Collects small writes (chat messages, view heartbeats) and commits them in batches: one transaction per
/// tick or per <see cref="MaxBatch"/> items. <see cref="FlushAsync"/> waits until everything queued before
/// it is committed; a clean shutdown drains the queue.
/// </summary>
public abstract class BatchedWriter<T>(Database database, ILogger logger, int capacity = 0) : BackgroundService
{
    // capacity > 0 bounds the queue: Enqueue then refuses (returns false) when it is full, rather than growing.
    private readonly Channel<(T? Item, TaskCompletionSource? Flushed)> _queue = capacity > 0
        ? Channel.CreateBounded<(T?, TaskCompletionSource?)>(new BoundedChannelOptions(capacity) { SingleReader = true, FullMode = BoundedChannelFullMode.Wait })
        : Channel.CreateUnbounded<(T?, TaskCompletionSource?)>(new UnboundedChannelOptions { SingleReader = true });

    protected virtual int MaxBatch => 500;

    protected virtual TimeSpan Tick => TimeSpan.FromMilliseconds(50);

    /// <summary>Queues an item; false when a bounded queue is full and the item was not taken.</summary>
    public bool Enqueue(T item) => _queue.Writer.TryWrite((item, null));

    public Task FlushAsync()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        return _queue.Writer.TryWrite((default, done)) ? done.Task : WaitForRoomAsync(done);
    }

    // A full bounded queue: the flush marker waits for room (items are dropped when full, a flush never is).
    private async Task WaitForRoomAsync(TaskCompletionSource done)
    {
        await _queue.Writer.WriteAsync((default, done));
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
                await DrainAsync(reader, batch, waiting, CancellationToken.None);
            }
        }
        catch (OperationCanceledException)
        {
        }

        // Shutdown: whatever was accepted before the stop is written.
        await DrainAsync(reader, batch, waiting, CancellationToken.None);
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

    private async Task CommitAsync(List<T> batch, CancellationToken ct)
    {
        if (batch.Count == 0)
        {
            return;
        }

        for (var attempt = 1; ; attempt++)
        {
            try
            {
                await database.InTransactionAsync((c, tx) => WriteAsync(c, tx, batch, ct), ct);
                batch.Clear();
                return;
            }
            catch (Exception ex) when (attempt < 5)
            {
                logger.LogWarning(ex, "Batched write of {Count} items failed on attempt {Attempt}; retrying", batch.Count, attempt);
                await Task.Delay(TimeSpan.FromMilliseconds(200 * attempt), CancellationToken.None);
            }
        }
    }
}
