using Pasar.Server.LiveRoom;
using Pasar.Server.Orders;
using Pasar.Server.Platform;

namespace Pasar.Server.Vouchers;

/// <summary>Live vouchers (SPEC §15, ADR 0019); tables vouchers, voucher_claims.</summary>
internal static class VouchersModule
{
    public static IHostApplicationBuilder AddVouchers(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<VoucherOptions>().BindConfiguration("Pasar:Vouchers");
        builder.Services.AddSingleton<VoucherGate>();
        builder.Services.AddHostedService<VoucherGateRepair>();
        builder.Services.AddSingleton<VoucherService>();
        builder.Services.AddSingleton<IOrderDiscount>(sp => sp.GetRequiredService<VoucherService>());
        builder.Services.AddSingleton<IActiveVoucherLookup, ActiveVoucherLookup>();
        builder.Services.AddHostedService<VoucherTicker>();
        builder.Services.AddRoomMessages((broadcaster, _) =>
        {
            broadcaster.Register<Voucher>("voucherDropped");
            broadcaster.Register<VoucherUpdated>("voucherUpdated");
        });
        return builder;
    }

    public static IEndpointRouteBuilder MapVouchers(this IEndpointRouteBuilder app)
    {
        app.MapVouchersApi();
        return app;
    }
}

internal sealed class ActiveVoucherLookup(VoucherService vouchers) : IActiveVoucherLookup
{
    public async Task<IReadOnlyList<object>> ActiveForSessionAsync(string sessionId, CancellationToken ct) =>
        (await vouchers.ActiveForSessionAsync(sessionId, ct)).Cast<object>().ToList();
}

/// <summary>Four times a second: push coalesced remaining counts; every second: forget vouchers that ended.</summary>
internal sealed class VoucherTicker(VoucherService vouchers, ILogger<VoucherTicker> logger) : RoomTicker(logger, "Voucher")
{
    protected override Task PushAsync(CancellationToken ct) => vouchers.PushUpdatesAsync(ct);

    protected override Task SettleDueAsync(CancellationToken ct) => vouchers.ForgetEndedAsync();
}
