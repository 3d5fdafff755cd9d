using Pasar.Server.Platform;

namespace Pasar.Server.FlashSales;

/// <summary>Four times a second: push coalesced remaining counts; every second: close sales that are due.</summary>
internal sealed class FlashSaleTicker(FlashSaleService sales, ILogger<FlashSaleTicker> logger) : RoomTicker(logger, "Flash sale")
{
    protected override Task PushAsync(CancellationToken ct) => sales.PushUpdatesAsync(ct);

    protected override Task SettleDueAsync(CancellationToken ct) => sales.CloseDueAsync(ct);
}
