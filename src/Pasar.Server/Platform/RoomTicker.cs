using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Platform;

/// <summary>
/// The live-room card rhythm: four times a second push coalesced counts, once a second settle what is due.
/// Each settle is a conditional update in SQL, so it happens once whichever node's ticker gets there.
/// A store outage is expected to pass: one short line a tick, and the next tick tries again.
/// </summary>
internal abstract class RoomTicker(ILogger logger, string name) : BackgroundService
{
    protected abstract Task PushAsync(CancellationToken ct);

    protected abstract Task SettleDueAsync(CancellationToken ct);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
        var tick = 0;
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                try
                {
                    await PushAsync(stoppingToken);
                    if (++tick % 4 == 0)
                    {
                        await SettleDueAsync(stoppingToken);
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException && StoreFaults.IsUnavailable(ex))
                {
                    logger.LogWarning("{Ticker} tick skipped: {Error}", name, StoreFaults.Describe(ex));
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    logger.LogWarning(ex, "{Ticker} tick failed", name);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
