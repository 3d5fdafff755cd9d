using System.Diagnostics.Metrics;

namespace Pasar.Server.Platform;

/// <summary>Pasar's own instruments, exported at /metrics beside the HTTP ones.</summary>
internal sealed class PasarMetrics
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
        ChatMessages = meter.CreateCounter<long>("pasar.chat.messages", description: "Chat messages accepted");
        ChatRejected = meter.CreateCounter<long>("pasar.chat.rejected", description: "Chat messages refused, by code");
        RoomDeliveries = meter.CreateCounter<long>("pasar.room.deliveries", description: "Frames written to live-room connections");
        SlowConsumersDropped = meter.CreateCounter<long>("pasar.room.slow_consumers_dropped", description: "Connections dropped because they stopped reading");
        HubConnections = meter.CreateUpDownCounter<long>("pasar.hub.connections", description: "Open live-room hub connections on this node");
        FlashSaleGate = meter.CreateCounter<long>("pasar.flash_sales.gate", description: "Flash-sale purchase attempts by gate result");
        Meter = meter;
    }

    public Meter Meter { get; }
    public Counter<long> OrdersPlaced { get; }
    public Counter<long> OrdersRejected { get; }
    public Counter<long> OutboxDelivered { get; }
    public Counter<long> OutboxFailures { get; }
    public Counter<long> ShakePlays { get; }
    public Counter<long> ChatMessages { get; }
    public Counter<long> ChatRejected { get; }
    public Counter<long> RoomDeliveries { get; }
    public Counter<long> SlowConsumersDropped { get; }
    public UpDownCounter<long> HubConnections { get; }
    public Counter<long> FlashSaleGate { get; }
}
