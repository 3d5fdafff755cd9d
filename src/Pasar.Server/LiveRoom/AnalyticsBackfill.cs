using Dapper;
using Microsoft.AspNetCore.Http.HttpResults;
using Pasar.Server.Analytics;
using Pasar.Server.Live;
using Pasar.Server.Platform.Auth;
using Pasar.Server.Platform.Http;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.LiveRoom;

internal sealed record BackfillResult(long Sessions, long Events);

/// <summary>
/// <c>POST /api/admin/analytics/backfill</c> (admins): copies the live room's SQL record of every show (views,
/// chat, product clicks, attributed purchases) into ClickHouse through the spool. Safe to run again, and safe on shows whose events
/// already went to ClickHouse live: views become a start at <c>started_at</c> and an end (or, if none was seen, a
/// heartbeat) at the time SQL kept, which are exactly the first and last times the live events of that view had, so
/// per-view watch time does not move; chat, clicks and purchases reuse their live ids (<c>chat:{id}</c>,
/// <c>click:{id}</c>, <c>purchase:{orderId}</c>); views use fixed <c>bf:</c> ids. Every figure counts distinct ids, so nothing doubles.
/// </summary>
internal static class AnalyticsBackfill
{
    public static void MapAnalyticsBackfill(this IEndpointRouteBuilder app) =>
        app.MapPost("/api/admin/analytics/backfill", Run).WithTags("Live room").RequireAuthorization(Policies.Admin)
            .WithSummary("Copy the SQL viewing events of all shows into ClickHouse, without duplicates (admins)");

    internal static async Task<Results<Ok<BackfillResult>, ProblemHttpResult>> Run(
        LiveSessionStore sessions, IAnalyticsRecorder analytics, Database db, CancellationToken ct)
    {
        if (!analytics.Enabled)
        {
            return ApiProblem.Create(StatusCodes.Status409Conflict, "ANALYTICS_NOT_CONFIGURED", "ClickHouse is not configured",
                "Set Pasar:Analytics:ClickHouse:Url to copy the SQL analytics into ClickHouse.");
        }

        long shows = 0, events = 0;
        var page = new PageRequest(PageRequest.MaxLimit, null, null);
        while (true)
        {
            var batch = await sessions.ListAsync(null, null, page, ct);
            foreach (var session in batch.Take(PageRequest.MaxLimit))
            {
                events += await CopyAsync(session, analytics, db, ct);
                shows++;
            }

            if (batch.Count <= PageRequest.MaxLimit)
            {
                return TypedResults.Ok(new BackfillResult(shows, events));
            }

            var last = batch[PageRequest.MaxLimit - 1];
            page = new PageRequest(PageRequest.MaxLimit, last.CreatedAt, last.Id);
        }
    }

    /// <summary>
    /// <c>dotnet run --project src/Pasar.Server -- analytics backfill</c>: the same copy as the admin route, from a
    /// Pasar started for the purpose on loopback ports (so it runs beside a serving node). It waits until this
    /// process's sink has sent what it spooled; whatever is left when <paramref name="drainTimeout"/> passes stays in
    /// the SQL spool, which any node delivers. Exit code 0 when copied and sent, 1 when ClickHouse is not
    /// configured, 2 when events are still spooled.
    /// </summary>
    internal static async Task<int> RunCommandAsync(string[] args, TimeSpan drainTimeout)
    {
        await using var app = PasarHost.Build(PasarHost.CommandArguments(args));
        await app.StartAsync();
        try
        {
            var (outcome, result) = await BackfillAndDrainAsync(app.Services, drainTimeout, app.Lifetime.ApplicationStopping);
            Console.WriteLine(outcome switch
            {
                BackfillOutcome.NotConfigured => "ClickHouse is not configured: set Pasar:Analytics:ClickHouse:Url to copy the SQL analytics into it.",
                BackfillOutcome.Sent => $"Copied {result!.Events} events of {result.Sessions} shows into ClickHouse.",
                _ => $"Spooled {result!.Events} events of {result.Sessions} shows; some are still in the SQL spool and any Pasar node sends them.",
            });
            return (int)outcome;
        }
        finally
        {
            await app.StopAsync();
        }
    }

    internal enum BackfillOutcome { Sent = 0, NotConfigured = 1, StillSpooled = 2 }

    /// <summary>The command's work, on a started host: spool the copy, then wait for the sink to send it.</summary>
    internal static async Task<(BackfillOutcome, BackfillResult?)> BackfillAndDrainAsync(IServiceProvider services, TimeSpan drainTimeout, CancellationToken ct)
    {
        await using var scope = services.CreateAsyncScope();
        var sp = scope.ServiceProvider;
        var copied = await Run(sp.GetRequiredService<LiveSessionStore>(), sp.GetRequiredService<IAnalyticsRecorder>(), sp.GetRequiredService<Database>(), ct);
        if (copied.Result is not Ok<BackfillResult> { Value: { } result })
        {
            return (BackfillOutcome.NotConfigured, null);
        }

        var backlog = sp.GetRequiredService<SpoolBacklog>();
        var time = sp.GetRequiredService<TimeProvider>();
        var deadline = time.GetUtcNow() + drainTimeout;
        while (backlog.Rows > 0 && time.GetUtcNow() < deadline)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(200), ct);
        }

        return (backlog.Rows > 0 ? BackfillOutcome.StillSpooled : BackfillOutcome.Sent, result);
    }

    private static Task<long> CopyAsync(LiveSessionRow session, IAnalyticsRecorder analytics, Database db, CancellationToken ct) =>
        db.InTransactionAsync(async (c, tx) =>
        {
            long n = 0;
            var args = new { id = session.Id };
            var views = await c.QueryAsync<(string Id, string ViewerId, string? UserId, long StartedAt, long LastSeenAt, long? EndedAt)>(new CommandDefinition(
                "SELECT id, viewer_id, user_id, started_at, last_seen_at, ended_at FROM live_views WHERE session_id = @id", args, tx, cancellationToken: ct));
            foreach (var v in views)
            {
                await analytics.RecordAsync(c, tx, new AnalyticsEvent($"bf:start:{v.Id}", AnalyticsKind.ViewStart, session.Id, session.SellerId, v.ViewerId, v.UserId, v.StartedAt, ViewId: v.Id), ct);
                await analytics.RecordAsync(c, tx, v.EndedAt is { } ended
                    ? new AnalyticsEvent($"bf:end:{v.Id}", AnalyticsKind.ViewEnd, session.Id, session.SellerId, v.ViewerId, v.UserId, ended, ViewId: v.Id)
                    : new AnalyticsEvent($"bf:seen:{v.Id}", AnalyticsKind.Heartbeat, session.Id, session.SellerId, v.ViewerId, v.UserId, v.LastSeenAt, ViewId: v.Id), ct);
                n += 2;
            }

            var chat = await c.QueryAsync<(string Id, string UserId, long SentAt)>(new CommandDefinition(
                "SELECT id, user_id, sent_at FROM chat_messages WHERE session_id = @id", args, tx, cancellationToken: ct));
            foreach (var m in chat)
            {
                await analytics.RecordAsync(c, tx, new AnalyticsEvent("chat:" + m.Id, AnalyticsKind.Chat, session.Id, session.SellerId, m.UserId, m.UserId, m.SentAt), ct);
                n++;
            }

            var clicks = await c.QueryAsync<ProductClick>(new CommandDefinition(
                "SELECT id, session_id AS SessionId, viewer_id AS ViewerId, user_id AS UserId, product_id AS ProductId, at FROM live_product_clicks WHERE session_id = @id",
                args, tx, cancellationToken: ct));
            foreach (var k in clicks)
            {
                await analytics.RecordAsync(c, tx, new AnalyticsEvent(ProductClick.EventId(k.Id), AnalyticsKind.ProductClick, session.Id, session.SellerId, k.ViewerId, k.UserId, k.At,
                    ProductId: k.ProductId), ct);
                n++;
            }

            var purchases = await c.QueryAsync<(string OrderId, string BuyerId, long AmountMinor, long At)>(new CommandDefinition(
                "SELECT order_id, buyer_id, amount_minor, at FROM live_purchases WHERE session_id = @id", args, tx, cancellationToken: ct));
            foreach (var p in purchases)
            {
                await analytics.RecordAsync(c, tx, new AnalyticsEvent("purchase:" + p.OrderId, AnalyticsKind.Purchase, session.Id, session.SellerId, p.BuyerId, p.BuyerId, p.At,
                    AmountMinor: p.AmountMinor), ct);
                n++;
            }

            return n;
        }, ct);
}
