using Pasar.Server.Catalog;
using Pasar.Server.Platform.Events;

namespace Pasar.Server.Orders;

/// <summary>
/// Keeps the product's "sold" count: the sum of its placed orders' quantities. It lives in Orders (not Catalog)
/// so that Catalog does not depend on Orders' event; the count is written through <see cref="ICatalogStock"/>.
/// The type name is its outbox delivery identity and stays as it was when Catalog held it.
/// </summary>
internal sealed class SoldCountOnPurchase(ICatalogStock catalog) : IEventHandler<PurchaseCompleted>
{
    public Task HandleAsync(PurchaseCompleted e, EventContext context, CancellationToken ct) =>
        catalog.RecordSoldAsync(context.Connection, context.Transaction, e.ProductId, e.Quantity, ct);
}
