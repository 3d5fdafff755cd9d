using System.Collections.Immutable;
using Microsoft.Extensions.Options;
using Pasar.Server.Catalog;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Auth;
using Pasar.Server.Platform.Events;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Demo;

/// <summary>
/// Demo sellers, buyers and products created on the first embedded start, so a newcomer's server is not
/// empty and the web app's demo sign-in has people to pick.
/// Runs as a Platform <see cref="IStartupTask"/> after the migrations.
/// </summary>
internal sealed class DemoData(Database db, Outbox outbox, TimeProvider time, IOptions<PasarOptions> options, ILogger<DemoData> logger) : IStartupTask
{
    public static readonly ImmutableArray<UserRecord> Users =
    [
        new("demo-seller-ayu", "Ayu Batik House", Roles.Seller),
        new("demo-seller-budi", "Budi Gadget Corner", Roles.Seller),
        new("demo-buyer-citra", "Citra", Roles.Buyer),
        new("demo-buyer-dimas", "Dimas", Roles.Buyer),
        new("demo-admin", "Pasar Admin", Roles.Admin),
    ];

    private static readonly (string Seller, string Title, string Description, long Price, int Stock)[] Products =
    [
        ("demo-seller-ayu", "Hand-stamped batik scarf", "Cotton, 180 × 70 cm, natural dyes from Pekalongan.", 3990, 40),
        ("demo-seller-ayu", "Batik kebaya top", "Fitted kebaya in indigo parang motif. Sizes S–XL.", 8990, 25),
        ("demo-seller-ayu", "Songket clutch", "Woven songket clutch with magnetic clasp.", 5490, 12),
        ("demo-seller-budi", "Wireless earbuds Pro", "Active noise cancelling, 30 h battery with case.", 12900, 60),
        ("demo-seller-budi", "65 W GaN charger", "Two USB-C and one USB-A, foldable plug.", 4590, 80),
        ("demo-seller-budi", "Phone tripod with remote", "Extends to 160 cm; made for live selling.", 2990, 8),
    ];

    public async Task RunAsync(CancellationToken ct)
    {
        if (!(options.Value.Demo.Seed ?? options.Value.IsEmbedded))
        {
            return;
        }

        await db.InTransactionAsync(async (c, tx) =>
        {
            if (await UserDirectory.ExistsAsync(c, tx, Users[0].Id, ct))
            {
                return;
            }

            var now = time.GetUtcNow();
            foreach (var user in Users)
            {
                await UserDirectory.AddIfAbsentAsync(c, tx, user, now, ct);
            }

            var at = now.ToUnixTimeMilliseconds();
            foreach (var p in Products)
            {
                var id = Ids.New();
                at++;
                await ProductStore.InsertAsync(c, tx, new Product(id, p.Seller, p.Title, p.Description, p.Price, "SGD", p.Stock, null, 0, DateTimeOffset.FromUnixTimeMilliseconds(at)), ct);
                await outbox.EnqueueAsync(c, tx, new ProductCreated(id, p.Seller, p.Title, p.Price, "SGD", DateTimeOffset.FromUnixTimeMilliseconds(at)), ct);
            }

            logger.LogInformation("Created demo data: {Users} users and {Products} products", Users.Length, Products.Length);
        }, ct);
    }
}
