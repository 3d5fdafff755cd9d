using System.Threading.Channels;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Platform.Redis;

/// <summary>
/// Settles a hot-store gate's give-backs whose outcome was unknown because the store was down: retries each, with a
/// backoff, until the store answers. The gates' scripts are idempotent by operation id, so a retry never gives twice.
/// </summary>
internal abstract class GateRepair<TRelease>(ChannelReader<TRelease> unsettled, ILogger logger) : BackgroundService
{
    protected abstract Task SettleAsync(TRelease release, CancellationToken ct);

    /// <summary>What the release is about, for the log ("Flash sale 123").</summary>
    protected abstract string Describe(TRelease release);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await foreach (var release in unsettled.ReadAllAsync(stoppingToken))
            {
                for (var failures = 1; ; failures++)
                {
                    try
                    {
                        await SettleAsync(release, stoppingToken);
                        break;
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        if (failures == 1 || failures % 20 == 0)
                        {
                            logger.LogWarning("{Subject}: settling a give-back waits for the hot store ({Error})", Describe(release), StoreFaults.Describe(ex));
                        }

                        await Task.Delay(StoreResilience.LoopBackoff(failures), stoppingToken);
                    }
                }
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }
}
