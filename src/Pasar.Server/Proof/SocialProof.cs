using System.Collections.Concurrent;
using Dapper;
using Microsoft.Extensions.Options;
using Pasar.Server.Catalog;
using Pasar.Server.LiveRoom;
using Pasar.Server.Orders;
using Pasar.Server.Platform.Events;
using Pasar.Server.Platform.Redis;
using Pasar.Server.Platform.Storage;
using StackExchange.Redis;

namespace Pasar.Server.Proof;

internal sealed class ProofOptions
{
    /// <summary>"N people bought this" is shown only from this many buyers up (<c>Pasar:Proof:MinBuyersShown</c>).</summary>
    public int MinBuyersShown { get; set; } = 3;

    /// <summary>"Only N left" below this stock (<c>Pasar:Proof:LowStockThreshold</c>).</summary>
    public int LowStockThreshold { get; set; } = 10;
}

internal sealed record ProductSignals(string ProductId, long BoughtLastHour, int Stock, bool LowStock, IReadOnlyList<string> Messages);

public sealed record PurchaseSignal(string ProductId, long BoughtLastHour, string? Message);

public sealed record LowStockSignal(string ProductId, int Stock, string Message);

/// <summary>
/// Social proof from real purchases only: "N people bought this in the last hour" is the number of distinct
/// buyers with an order in the sliding hour before now (each purchase ages out on its own), and "Only N left"
/// is the product's stock. Every number can be traced to rows in <c>proof_purchases</c> and the catalog.
/// </summary>
internal sealed class SocialProof(Database database, ICatalogStock catalog, IOptions<ProofOptions> options, TimeProvider time)
{
    public static readonly TimeSpan Window = TimeSpan.FromHours(1);

    public async Task<ProductSignals?> SignalsAsync(string productId, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        var product = await catalog.FindAsync(c, null, productId, ct);
        if (product is null)
        {
            return null;
        }

        var since = time.GetUtcNow().Add(-Window).ToUnixTimeMilliseconds();
        var bought = await c.ExecuteScalarAsync<long>(new CommandDefinition(
            "SELECT COUNT(DISTINCT buyer_id) FROM proof_purchases WHERE product_id = @productId AND at > @since", new { productId, since }, cancellationToken: ct));
        var rules = options.Value;
        var messages = new List<string>();
        if (BoughtMessage(bought) is { } boughtMessage)
        {
            messages.Add(boughtMessage);
        }

        var low = product.Stock > 0 && product.Stock < rules.LowStockThreshold;
        if (low)
        {
            messages.Add(LowStockMessage(product.Stock));
        }

        return new ProductSignals(productId, bought, product.Stock, low, messages);
    }

    public string? BoughtMessage(long bought) =>
        bought >= options.Value.MinBuyersShown ? $"{bought} people bought this in the last hour" : null;

    public static string LowStockMessage(int stock) => $"Only {stock} left in stock!";
}

/// <summary>Records each purchase for social proof and asks for a push once it is committed.</summary>
internal sealed class ProofOnPurchase(ProofPusher pusher) : IEventHandler<PurchaseCompleted>
{
    public async Task HandleAsync(PurchaseCompleted e, EventContext context, CancellationToken ct)
    {
        await context.Connection.ExecuteAsync(new CommandDefinition(
            "INSERT INTO proof_purchases (order_id, product_id, buyer_id, at) VALUES (@OrderId, @ProductId, @BuyerId, @at) ON CONFLICT DO NOTHING",
            new { e.OrderId, e.ProductId, e.BuyerId, at = e.At.ToUnixTimeMilliseconds() }, context.Transaction, cancellationToken: ct));
        context.AfterCommit(() =>
        {
            pusher.MarkChanged(e.ProductId);
            return Task.CompletedTask;
        });
    }
}

/// <summary>
/// Once a second, pushes the signals of products that sold to everyone watching the product and to every live
/// room where it is pinned: at most one push per product per second across all nodes (a SET NX election).
/// </summary>
internal sealed class ProofPusher(
    SocialProof proof, LivePins pins, RoomBroadcaster broadcaster, HotStore store, ILogger<ProofPusher> logger) : BackgroundService
{
    private readonly ConcurrentDictionary<string, byte> _changed = new(StringComparer.Ordinal);

    public void MarkChanged(string productId) => _changed[productId] = 0;

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromSeconds(1));
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken))
            {
                foreach (var productId in _changed.Keys.ToList())
                {
                    try
                    {
                        if (await store.Database.StringSetAsync($"proof:push:{productId}", "1", TimeSpan.FromMilliseconds(950), When.NotExists))
                        {
                            _changed.TryRemove(productId, out _);
                            await PushAsync(productId, stoppingToken);
                        }
                    }
                    catch (Exception ex) when (ex is not OperationCanceledException)
                    {
                        if (Platform.Storage.StoreFaults.IsUnavailable(ex))
                        {
                            logger.LogWarning("Social proof push for {Product} failed: {Error}", productId, Platform.Storage.StoreFaults.Describe(ex));
                        }
                        else
                        {
                            logger.LogWarning(ex, "Social proof push for {Product} failed", productId);
                        }
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task PushAsync(string productId, CancellationToken ct)
    {
        var signals = await proof.SignalsAsync(productId, ct);
        if (signals is null)
        {
            return;
        }

        var rooms = await pins.SessionsPinningAsync(productId, ct);
        var purchase = new PurchaseSignal(productId, signals.BoughtLastHour, proof.BoughtMessage(signals.BoughtLastHour));
        await broadcaster.PublishAsync(RoomTarget.Product, productId, "purchaseSignal", purchase);
        foreach (var room in rooms)
        {
            await broadcaster.PublishAsync(RoomTarget.Session, room, "purchaseSignal", purchase);
        }

        if (signals.LowStock)
        {
            var low = new LowStockSignal(productId, signals.Stock, SocialProof.LowStockMessage(signals.Stock));
            await broadcaster.PublishAsync(RoomTarget.Product, productId, "lowStock", low);
            foreach (var room in rooms)
            {
                await broadcaster.PublishAsync(RoomTarget.Session, room, "lowStock", low);
            }
        }
    }
}
