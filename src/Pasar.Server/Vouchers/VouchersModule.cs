using Dapper;
using Pasar.Server.LiveRoom;
using Pasar.Server.Orders;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Storage;

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
        builder.Services.AddSingleton<ISessionVoucherFigures, SessionVoucherFigures>();
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

/// <summary>Claims and redemptions per show: one grouped query for any number of shows.</summary>
internal sealed class SessionVoucherFigures(Database database) : ISessionVoucherFigures
{
    public async Task<IReadOnlyDictionary<string, VoucherFigures>> ForSessionsAsync(IReadOnlyCollection<string> sessionIds, CancellationToken ct)
    {
        var figures = new Dictionary<string, VoucherFigures>(sessionIds.Count);
        await using var c = await database.OpenAsync(ct);
        foreach (var chunk in sessionIds.Distinct().Chunk(500))
        {
            var (list, parameters) = SqlIn.Of(chunk);
            var rows = await c.QueryAsync<(string SessionId, long Claimed, long Redeemed)>(new CommandDefinition(
                $"""
                SELECT v.session_id, COUNT(*), COUNT(c.used_order_id)
                FROM voucher_claims c JOIN vouchers v ON v.id = c.voucher_id
                WHERE v.session_id IN ({list}) GROUP BY v.session_id
                """, parameters, cancellationToken: ct));
            foreach (var row in rows)
            {
                figures[row.SessionId] = new VoucherFigures(row.Claimed, row.Redeemed);
            }
        }

        return figures;
    }
}
