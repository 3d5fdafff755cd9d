using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Engagement;

/// <summary>
/// Four times a second: push coalesced poll counts; every second: close polls and draw giveaways whose time is
/// up. Each close and draw is a conditional update in SQL, so it happens once whichever node's ticker gets there.
/// </summary>
internal sealed class EngagementTicker(PollService polls, GiveawayService giveaways, ILogger<EngagementTicker> logger) : BackgroundService
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
                    await polls.PushUpdatesAsync(stoppingToken);
                    if (++tick % 4 == 0)
                    {
                        await polls.CloseDueAsync(stoppingToken);
                        await giveaways.DrawDueAsync(stoppingToken);
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException && StoreFaults.IsUnavailable(ex))
                {
                    logger.LogWarning("Engagement tick skipped: {Error}", StoreFaults.Describe(ex));
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    logger.LogWarning(ex, "Engagement tick failed");
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }
}
