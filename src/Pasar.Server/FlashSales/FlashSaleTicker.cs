using Pasar.Server.Platform.Storage;

namespace Pasar.Server.FlashSales;

/// <summary>Four times a second: push coalesced remaining counts and close sales that are due.</summary>
internal sealed class FlashSaleTicker(FlashSaleService sales, ILogger<FlashSaleTicker> logger) : BackgroundService
{
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
                    await sales.PushUpdatesAsync(stoppingToken);
                    if (++tick % 4 == 0)
                    {
                        await sales.CloseDueAsync(stoppingToken);
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException && StoreFaults.IsUnavailable(ex))
                {
                    // An outage is expected to pass: one short line a tick, the next tick tries again.
                    logger.LogWarning("Flash sale tick skipped: {Error}", StoreFaults.Describe(ex));
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    logger.LogWarning(ex, "Flash sale tick failed");
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
