using System.Diagnostics.Metrics;

namespace Pasar.Server.Platform;

/// <summary>Pasar's own instruments, exported at /metrics beside the HTTP ones.</summary>
public sealed class PasarMetrics
{
    public const string MeterName = "Pasar";

    public PasarMetrics(IMeterFactory meters)
    {
        var meter = meters.Create(MeterName);
        OrdersPlaced = meter.CreateCounter<long>("pasar.orders.placed", description: "Orders placed");
        OrdersRejected = meter.CreateCounter<long>("pasar.orders.rejected", description: "Order attempts refused, by code");
        OutboxDelivered = meter.CreateCounter<long>("pasar.outbox.delivered", description: "Outbox events delivered to all their handlers");
        OutboxFailures = meter.CreateCounter<long>("pasar.outbox.failures", description: "Outbox deliveries that failed and will be retried");
        ShakePlays = meter.CreateCounter<long>("pasar.games.shake.plays", description: "Shake-Shake plays, by band");
        Meter = meter;
    }

    public Meter Meter { get; }
    public Counter<long> OrdersPlaced { get; }
    public Counter<long> OrdersRejected { get; }
    public Counter<long> OutboxDelivered { get; }
    public Counter<long> OutboxFailures { get; }
    public Counter<long> ShakePlays { get; }
}
