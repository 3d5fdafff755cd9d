using System.Collections.Concurrent;
using System.Collections.Frozen;
using System.Data.Common;
using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Pasar.Server.Catalog;
using Pasar.Server.Live;
using Pasar.Server.LiveRoom;
using Pasar.Server.Orders;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Events;
using Pasar.Server.Platform.Http;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.FlashSales;

/// <summary>
/// Flash sales in a live room. Starting one carves its quantity out of the product's stock; a purchase passes
/// the Redis/Garnet gate, then commits its order with SQL's own guards (sold ≤ quantity, the buyer's limit,
/// the window) in one transaction; a failure after the gate gives the unit back. Closing returns what is unsold.
/// </summary>
internal sealed partial class FlashSaleService(
    Database database,
    FlashSaleGate gate,
    ICatalogStock catalog,
    OrderPlacement placement,
    IdempotencyStore idempotency,
    Outbox outbox,
    RoomBroadcaster broadcaster,
    Live.IReplayMoments moments,
    TimeProvider time,
    PasarMetrics metrics,
    Microsoft.Extensions.Options.IOptions<FlashSaleOptions> options,
    ILogger<FlashSaleService> logger)
{
    private readonly bool sqlOnly = options.Value.Gate == GateKind.SqlOnly;
    private readonly ConcurrentDictionary<string, FlashSaleRow> _sales = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _dirty = new(StringComparer.Ordinal);

    /// <summary>The (buyer, Idempotency-Key) of every purchase of ended sales whose terms are cached, read once (an ended sale sells nothing more).</summary>
    private readonly ConcurrentDictionary<string, FrozenSet<(string Buyer, string Key)>> _endedPurchases = new(StringComparer.Ordinal);

    /// <summary>Beyond this many buyers an ended sale's buyers are not kept in memory; a retry check asks SQL instead.</summary>
    private const int MaxEndedBuyersKept = 50_000;

    /// <summary>Sales whose terms are cached here (for tests and bounds).</summary>
    internal int CachedSales => _sales.Count;

    public async Task<Results<Created<FlashSale>, ProblemHttpResult, ValidationProblem>> StartAsync(
        LiveSessionRow session, StartFlashSaleRequest body, CancellationToken ct)
    {
        var v = new RequestValidator()
            .Text("productId", body.ProductId, 1, 64)
            .Range("salePriceMinor", body.SalePriceMinor, 0, Catalog.ProductsApi.MaxPriceMinor)
            .Range("quantity", body.Quantity, 1, 1_000_000)
            .Range("durationSeconds", body.DurationSeconds ?? 300, 10, 3600)
            .Range("perUserLimit", body.PerUserLimit ?? 1, 1, 100);
        if (!v.IsValid)
        {
            return ApiProblem.Validation(v.Errors);
        }

        if (session.Status != LiveStatus.Live)
        {
            return ApiProblem.Create(StatusCodes.Status409Conflict, "SESSION_NOT_LIVE", "The session is not live", "Flash sales run while you are on air.");
        }

        await CloseDueAsync(ct); // a sale whose time is up no longer blocks a new one
        var now = time.GetUtcNow();
        var outcome = await database.InTransactionAsync<CommandOutcome<FlashSale>>(async (c, tx) =>
        {
            var product = await catalog.FindAsync(c, tx, body.ProductId!, ct);
            if (product is null)
            {
                return CommandOutcome<FlashSale>.Refused(ApiProblem.NotFound("PRODUCT_NOT_FOUND", "Product"));
            }

            if (product.SellerId != session.SellerId)
            {
                return CommandOutcome<FlashSale>.Refused(ApiProblem.Create(StatusCodes.Status403Forbidden, "NOT_YOUR_PRODUCT", "Not your product", "A flash sale sells your own product."));
            }

            if (body.SalePriceMinor > product.PriceMinor)
            {
                return CommandOutcome<FlashSale>.Refused(ApiProblem.Create(StatusCodes.Status400BadRequest, "VALIDATION_FAILED", "The request is not valid",
                    extra: new Dictionary<string, object?> { ["errors"] = new Dictionary<string, string[]> { ["salePriceMinor"] = ["salePriceMinor must not be above the product's price."] } }));
            }

            var row = new FlashSaleRow
            {
                Id = Ids.New(),
                SessionId = session.Id,
                SellerId = session.SellerId,
                ProductId = product.Id,
                SalePriceMinor = body.SalePriceMinor!.Value,
                Currency = product.Currency,
                Quantity = body.Quantity!.Value,
                Sold = 0,
                PerUserLimit = body.PerUserLimit ?? 1,
                StartsAt = now.ToUnixTimeMilliseconds(),
                EndsAt = now.AddSeconds(body.DurationSeconds ?? 300).ToUnixTimeMilliseconds(),
                Status = FlashSaleStatus.Active,
            };
            // The partial unique index (one active sale per session) decides between racing starts: the second
            // waits for the first to commit, then inserts nothing. The sale row goes in before the stock is taken,
            // so a refused start never touches the product row.
            var inserted = await c.ExecuteAsync(new CommandDefinition(
                """
                INSERT INTO flash_sales (id, session_id, seller_id, product_id, sale_price_minor, currency, quantity, sold, per_user_limit, starts_at, ends_at, status, created_at)
                VALUES (@Id, @SessionId, @SellerId, @ProductId, @SalePriceMinor, @Currency, @Quantity, 0, @PerUserLimit, @StartsAt, @EndsAt, 'active', @StartsAt)
                ON CONFLICT (session_id) WHERE status = 'active' DO NOTHING
                """, row, tx, cancellationToken: ct));
            if (inserted == 0)
            {
                return CommandOutcome<FlashSale>.Refused(ApiProblem.Create(StatusCodes.Status409Conflict, "FLASH_SALE_ACTIVE", "A flash sale is already running",
                    "One flash sale at a time per live session; end or sell out the current one first."));
            }

            if (!await catalog.TryTakeStockAsync(c, tx, product.Id, body.Quantity.Value, now.ToUnixTimeMilliseconds(), ct))
            {
                return CommandOutcome<FlashSale>.Refused(ApiProblem.Create(StatusCodes.Status409Conflict, "OUT_OF_STOCK", "Not enough stock", $"The product has {product.Stock} in stock."));
            }

            await outbox.EnqueueAsync(c, tx, new FlashSaleStarted(row.Id, row.SessionId, row.SellerId, row.ProductId, now), ct);
            // The replay shows what the deal was (its sale price); a buyer there pays the price of the day.
            await moments.RecordAsync(c, tx, row.SessionId, Live.IReplayMoments.FlashSale, product.Id, product.Title, row.SalePriceMinor, row.Currency, now, ct);
            return new CommandOutcome<FlashSale>(row.ToSale(), null);
        }, ct);
        if (outcome.Value is null)
        {
            return outcome.Problem!;
        }

        await gate.RebuildAsync(outcome.Value.Id, ct);
        await broadcaster.PublishAsync(RoomTarget.Session, outcome.Value.SessionId, "flashSaleStarted", outcome.Value);
        return TypedResults.Created($"/api/flash-sales/{outcome.Value.Id}", outcome.Value);
    }

    public async Task<Results<Created<Order>, ProblemHttpResult, ValidationProblem, PreparedProblem>> PurchaseAsync(
        string saleId, string buyerId, FlashPurchaseRequest body, string? idempotencyKey, CancellationToken ct)
    {
        var v = new RequestValidator().Range("quantity", body.Quantity, 1, 100);
        if (idempotencyKey is not null && !IdempotencyStore.IsValidKey(idempotencyKey))
        {
            v.Add(IdempotencyStore.Header, "Idempotency-Key must be 1 to 255 visible ASCII characters.");
        }

        if (!v.IsValid)
        {
            return ApiProblem.Validation(v.Errors);
        }

        var sale = await FindCachedAsync(saleId, ct);
        if (sale is null)
        {
            return ApiProblem.NotFound("FLASH_SALE_NOT_FOUND", "Flash sale");
        }

        var quantity = body.Quantity!.Value;
        // Hashed only when a stored response is compared or a purchase commits, not for every refusal.
        string RequestHash() => IdempotencyStore.HashRequest("flash:" + saleId, body);
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        if (sale.Status != FlashSaleStatus.Active || now < sale.StartsAt || now >= sale.EndsAt || quantity > sale.PerUserLimit || sqlOnly)
        {
            // Off the hot path (or the SQL-only comparison mode): answer a retry of a purchase that went through.
            // Of an ended sale only the keys its purchases were made with can have one, and they are final (MayBeRetryAsync).
            if (idempotencyKey is not null && (sale.Status == FlashSaleStatus.Active || sqlOnly || await MayBeRetryAsync(sale, buyerId, idempotencyKey, ct))
                && await StoredResponseAsync(buyerId, idempotencyKey, ct) is { } stored)
            {
                return stored.RequestHash == RequestHash() ? TypedResults.Created($"/api/orders/{stored.Order.Id}", stored.Order) : IdempotencyStore.Mismatch();
            }
        }

        if (sale.Status != FlashSaleStatus.Active)
        {
            return sale.Sold >= sale.Quantity ? SoldOut : SaleNotActive;
        }

        if (now < sale.StartsAt || now >= sale.EndsAt)
        {
            return SaleNotActive;
        }

        if (quantity > sale.PerUserLimit)
        {
            return LimitReached;
        }

        if (!sqlOnly)
        {
            // The hot path: thousands of taps a second are answered by the gate alone. Only a request whose key passed
            // the gate before can be a retry, so only those refusals look for a stored response (GateRetryKeys).
            var (result, _) = await gate.TryTakeAsync(saleId, buyerId, quantity, (int)sale.PerUserLimit, idempotencyKey, ct);
            if (result != FlashSaleGate.Result.Taken)
            {
                if (result is FlashSaleGate.Result.LimitReachedMaybeRetry or FlashSaleGate.Result.SoldOutAfterBuying
                    && idempotencyKey is not null && await StoredResponseAsync(buyerId, idempotencyKey, ct) is { } stored)
                {
                    return stored.RequestHash == RequestHash() ? TypedResults.Created($"/api/orders/{stored.Order.Id}", stored.Order) : IdempotencyStore.Mismatch();
                }

                var limit = result is FlashSaleGate.Result.LimitReached or FlashSaleGate.Result.LimitReachedMaybeRetry;
                metrics.FlashSaleGate.Add(1, limit ? LimitReachedTag : SoldOutTag);
                return limit ? LimitReached : SoldOut;
            }
        }

        CommandOutcome<Order> outcome;
        try
        {
            outcome = await idempotency.ExecuteAsync(buyerId, idempotencyKey, "flash:" + saleId, RequestHash(), async (c, tx) =>
                await CommitAsync(c, tx, sale, buyerId, quantity, ct), ct);
        }
        catch
        {
            if (!sqlOnly)
            {
                await gate.ReleaseAsync(saleId, buyerId, quantity);
            }

            throw;
        }

        if ((outcome.Value is null || outcome.Replayed) && !sqlOnly)
        {
            await gate.ReleaseAsync(saleId, buyerId, quantity); // SQL said no (or a racing retry won): the unit goes back
        }

        if (outcome.Value is null)
        {
            metrics.FlashSaleGate.Add(1, new KeyValuePair<string, object?>("result", "refused_by_sql"));
            return outcome.Problem!;
        }

        metrics.FlashSaleGate.Add(1, new KeyValuePair<string, object?>("result", "sold"));
        _dirty[saleId] = 0;
        return TypedResults.Created($"/api/orders/{outcome.Value.Id}", outcome.Value);
    }

    private async Task<CommandOutcome<Order>> CommitAsync(DbConnection c, DbTransaction tx, FlashSaleRow sale, string buyerId, int quantity, CancellationToken ct)
    {
        var now = time.GetUtcNow().ToUnixTimeMilliseconds();
        var sold = await c.ExecuteAsync(new CommandDefinition(
            """
            UPDATE flash_sales SET sold = sold + @quantity
            WHERE id = @Id AND status = 'active' AND sold + @quantity <= quantity AND starts_at <= @now AND ends_at > @now
            """, new { quantity, sale.Id, now }, tx, cancellationToken: ct));
        if (sold == 0)
        {
            var state = await c.QuerySingleAsync<(string Status, long Quantity, long Sold, long EndsAt)>(new CommandDefinition(
                "SELECT status, quantity, sold, ends_at FROM flash_sales WHERE id = @Id", new { sale.Id }, tx, cancellationToken: ct));
            return CommandOutcome<Order>.Refused(Refused(state.Status == FlashSaleStatus.Active && state.EndsAt > now && state.Sold + quantity > state.Quantity ? "SOLD_OUT" : "SALE_NOT_ACTIVE"));
        }

        var withinLimit = await c.QuerySingleOrDefaultAsync<long?>(new CommandDefinition(
            """
            INSERT INTO flash_sale_buyers (sale_id, buyer_id, quantity) VALUES (@Id, @buyerId, @quantity)
            ON CONFLICT (sale_id, buyer_id) DO UPDATE SET quantity = flash_sale_buyers.quantity + excluded.quantity
            WHERE flash_sale_buyers.quantity + excluded.quantity <= @PerUserLimit
            RETURNING quantity
            """, new { sale.Id, buyerId, quantity, sale.PerUserLimit }, tx, cancellationToken: ct));
        if (withinLimit is null || withinLimit > sale.PerUserLimit)
        {
            return CommandOutcome<Order>.Refused(Refused("LIMIT_REACHED"));
        }

        var placed = await placement.PlaceAsync(c, tx,
            new OrderDraft(buyerId, sale.ProductId, quantity, 0, null, FlashSaleId: sale.Id, UnitPriceMinor: sale.SalePriceMinor, StockAlreadyReserved: true), ct);
        return placed.Order is not null ? new CommandOutcome<Order>(placed.Order, null) : CommandOutcome<Order>.Refused(OrdersApi.Problem(placed.Refusal!.Value));
    }

    private async Task<(Order Order, string RequestHash)?> StoredResponseAsync(string buyerId, string key, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        var row = await IdempotencyStore.FindAsync(c, buyerId, key, ct);
        return row is { StatusCode: 201 } r
            ? (System.Text.Json.JsonSerializer.Deserialize<Order>(r.ResponseBody, System.Text.Json.JsonSerializerOptions.Web)!, r.RequestHash)
            : null;
    }

    // The refusals of a burst, written from prepared bytes (most attempts of a sold-out sale end here).
    internal static readonly PreparedProblem SoldOut = new(StatusCodes.Status409Conflict, "SOLD_OUT", "Sold out", "Every unit of this flash sale is taken.");
    internal static readonly PreparedProblem LimitReached = new(StatusCodes.Status409Conflict, "LIMIT_REACHED", "Limit reached", "You have bought as many as this flash sale allows per buyer.");
    internal static readonly PreparedProblem SaleNotActive = new(StatusCodes.Status409Conflict, "SALE_NOT_ACTIVE", "The flash sale is not running", "This flash sale has not started or has ended.");
    private static readonly KeyValuePair<string, object?> SoldOutTag = new("result", "SOLD_OUT");
    private static readonly KeyValuePair<string, object?> LimitReachedTag = new("result", "LIMIT_REACHED");

    internal static ProblemHttpResult Refused(string code) => (code switch
    {
        "SOLD_OUT" => SoldOut,
        "LIMIT_REACHED" => LimitReached,
        _ => SaleNotActive,
    }).ToProblem();

    public async Task<FlashSale?> GetAsync(string saleId, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        var row = await c.QuerySingleOrDefaultAsync<FlashSaleRow>(new CommandDefinition(
            $"SELECT {FlashSaleRow.Columns} FROM flash_sales WHERE id = @saleId", new { saleId }, cancellationToken: ct));
        return row?.ToSale();
    }

    public async Task<FlashSale?> ActiveForSessionAsync(string sessionId, CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        var row = await c.QuerySingleOrDefaultAsync<FlashSaleRow>(new CommandDefinition(
            $"SELECT {FlashSaleRow.Columns} FROM flash_sales WHERE session_id = @sessionId AND status = 'active' AND ends_at > @now",
            new { sessionId, now = time.GetUtcNow().ToUnixTimeMilliseconds() }, cancellationToken: ct));
        return row?.ToSale();
    }

    /// <summary>
    /// Whether a request to the ended <paramref name="sale"/> may be the retry of one of its purchases: only a buyer's
    /// key that a purchase of this sale was stored under can be. An ended sale takes no purchase again, so these keys
    /// are read once and kept while its terms are; every other tap of the crowd is refused without SQL.
    /// </summary>
    private async Task<bool> MayBeRetryAsync(FlashSaleRow sale, string buyerId, string idempotencyKey, CancellationToken ct)
    {
        if (sale.Sold > MaxEndedBuyersKept || !_sales.ContainsKey(sale.Id))
        {
            return true; // not kept: the stored response is looked up
        }

        if (!_endedPurchases.TryGetValue(sale.Id, out var purchases))
        {
            await using var c = await database.OpenAsync(ct);
            purchases = (await IdempotencyStore.SucceededKeysAsync(c, "flash:" + sale.Id, ct)).ToFrozenSet();
            _endedPurchases[sale.Id] = purchases;
        }

        return purchases.Contains((buyerId, idempotencyKey));
    }

    /// <summary>The sale's fixed terms, cached (status is re-checked by SQL on every purchase).</summary>
    private async Task<FlashSaleRow?> FindCachedAsync(string saleId, CancellationToken ct)
    {
        // Terms never change; an ended sale never changes again. An active one's status is re-checked by SQL.
        if (_sales.TryGetValue(saleId, out var cached))
        {
            return cached;
        }

        if (saleId.Length > 64)
        {
            return null;
        }

        await using var c = await database.OpenAsync(ct);
        var row = await c.QuerySingleOrDefaultAsync<FlashSaleRow>(new CommandDefinition(
            $"SELECT {FlashSaleRow.Columns} FROM flash_sales WHERE id = @saleId", new { saleId }, cancellationToken: ct));
        // A sale past its end is not cached: its terms are read from SQL, so old and made-up ids leave nothing here.
        if (row is not null && row.EndsAt > time.GetUtcNow().ToUnixTimeMilliseconds())
        {
            _sales[saleId] = row;
        }

        return row;
    }
}
