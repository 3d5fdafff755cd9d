using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using System.Net;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;
using Pasar.Server.FlashSales;
using Pasar.Server.LiveRoom;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Storage;
using Pasar.Server.Tests.FlashSales;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.LiveRoom;

/// <summary>
/// One hostile hub connection against the caps of SPEC §17: calls per second, products watched, chat only where
/// one has joined, viewer ids the server issued, and per-room state that goes when the room does.
/// </summary>
public sealed class HubAbuseTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Runs <paramref name="count"/> calls, <paramref name="parallel"/> at a time, and returns each one's error code (null when it succeeded).</summary>
    private static async Task<List<string?>> CallManyAsync(int count, int parallel, Func<int, Task> call)
    {
        var codes = new ConcurrentBag<string?>();
        await Parallel.ForEachAsync(Enumerable.Range(0, count), new ParallelOptions { MaxDegreeOfParallelism = parallel, CancellationToken = Ct }, async (i, _) =>
        {
            try
            {
                await call(i);
                codes.Add(null);
            }
            catch (HubException ex)
            {
                codes.Add(ChatTests.CodeOf(ex.Message) ?? ex.Message);
            }
        });
        return [.. codes];
    }

    [Fact]
    public async Task A_connection_flooding_calls_is_refused_after_its_bucket_while_a_normal_client_still_chats()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded, s =>
        {
            s["Pasar:RateLimits:Enabled"] = "true";
            s["Pasar:RateLimits:HubCallsPerSecond"] = "5";
        });
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        var sessionId = await ChatTests.CreateSessionAsync(seller);
        await using var flooder = await RoomClient.ConnectAsync(app);
        await flooder.JoinAsync(sessionId);

        var started = DateTime.UtcNow;
        var codes = await CallManyAsync(500, 16, _ => flooder.Connection.InvokeAsync("Heartbeat", sessionId, Ct));
        var elapsed = DateTime.UtcNow - started;

        // A bucket of 10 (twice the rate), refilled at 5 a second: the rest are refused with the code.
        var accepted = codes.Count(c => c is null);
        Assert.All(codes.Where(c => c is not null), c => Assert.Equal("RATE_LIMITED", c));
        Assert.InRange(accepted, 1, 10 + (int)Math.Ceiling(elapsed.TotalSeconds * 5) + 5);
        Assert.True(codes.Count(c => c == "RATE_LIMITED") > 0);

        // Another connection has its own bucket: a viewer still joins, chats and is heard.
        await using var buyer = await RoomClient.ConnectAsync(app, await app.TokenAsync("buyer-1", "buyer"));
        await using var listener = await RoomClient.ConnectAsync(app);
        await buyer.JoinAsync(sessionId);
        await listener.JoinAsync(sessionId);
        await buyer.ChatAsync(sessionId, "still here");
        Assert.Equal("still here", (await listener.WaitForAsync("chat", f => f.GetArrayLength() > 0)).EnumerateArray().Last().GetProperty("text").GetString());
    }

    [Fact]
    public async Task A_thousand_distinct_WatchProduct_calls_are_accepted_only_up_to_the_cap_and_bad_ids_are_refused()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        var registry = app.Services.GetRequiredService<RoomRegistry>();
        await using (var watcher = await RoomClient.ConnectAsync(app))
        {
            var codes = await CallManyAsync(1000, 8, i => watcher.Connection.InvokeAsync("WatchProduct", $"made-up-product-{i:D4}", Ct));
            Assert.Equal(HubLimits.MaxWatchedProducts, codes.Count(c => c is null));
            Assert.Equal(1000 - HubLimits.MaxWatchedProducts, codes.Count(c => c == "TOO_MANY_PRODUCTS"));
            Assert.Equal(HubLimits.MaxWatchedProducts, registry.IndexSizes.Products);

            foreach (var bad in new[] { "", new string('a', 65), "../../etc", "id with spaces", "<script>" })
            {
                var ex = await Assert.ThrowsAsync<HubException>(() => watcher.Connection.InvokeAsync("WatchProduct", bad, Ct));
                Assert.Equal("INVALID_PRODUCT", ChatTests.CodeOf(ex.Message));
            }

            // Unwatching frees a place, and the product's entry goes with its last watcher.
            await watcher.Connection.InvokeAsync("UnwatchProduct", "made-up-product-0000", Ct);
            await watcher.Connection.InvokeAsync("UnwatchProduct", "never-watched", Ct);
            Assert.Equal(HubLimits.MaxWatchedProducts - 1, registry.IndexSizes.Products);
            await watcher.Connection.InvokeAsync("WatchProduct", "another-product", Ct);
        }

        await PasarApp.EventuallyAsync(() => Task.FromResult(registry.IndexSizes == (0, 0)), TimeSpan.FromSeconds(10), "the watcher's products to leave the index");
    }

    [Fact]
    public async Task SendChat_into_a_session_the_connection_has_not_joined_is_refused_and_nothing_is_stored()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        var joined = await ChatTests.CreateSessionAsync(seller, "joined");
        var other = await ChatTests.CreateSessionAsync(seller, "not joined");
        await using var buyer = await RoomClient.ConnectAsync(app, await app.TokenAsync("buyer-1", "buyer"));

        var ex = await Assert.ThrowsAsync<HubException>(() => buyer.ChatAsync(joined, "drive-by"));
        Assert.Equal("NOT_JOINED", ChatTests.CodeOf(ex.Message));
        await buyer.JoinAsync(joined);
        ex = await Assert.ThrowsAsync<HubException>(() => buyer.ChatAsync(other, "into another room"));
        Assert.Equal("NOT_JOINED", ChatTests.CodeOf(ex.Message));

        await buyer.ChatAsync(joined, "hello room");
        await app.Services.GetRequiredService<ChatWriter>().FlushAsync();
        Assert.Equal(["hello room"], await app.QueryAsync<string>("SELECT text FROM chat_messages"));
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Invented_anonymous_ids_do_not_inflate_viewers_and_a_server_issued_one_counts_once(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        var sessionId = await ChatTests.CreateSessionAsync(seller);

        // A first visit: the made-up id is not believed; the server issues one in the snapshot.
        await using var first = await RoomClient.ConnectAsync(app, anonId: "made-up-viewer-0001");
        var snapshot = await first.JoinAsync(sessionId);
        var token = snapshot.GetProperty("viewerToken").GetString()!;
        Assert.NotEqual("made-up-viewer-0001", token);
        Assert.Equal(1, snapshot.GetProperty("viewers").GetProperty("current").GetInt64());

        // The same browser in nine more tabs, presenting its issued id: still one viewer.
        var tabs = await Task.WhenAll(Enumerable.Range(0, 9).Select(_ => RoomClient.ConnectAsync(app, anonId: token)));
        foreach (var tab in tabs)
        {
            var s = await tab.JoinAsync(sessionId);
            Assert.Equal(token, s.GetProperty("viewerToken").GetString());
            Assert.Equal(1, s.GetProperty("viewers").GetProperty("current").GetInt64());
        }

        // Forged ids (right shape, wrong signature) and invented ones: each connection is one viewer, no more.
        var forged = token[..(token.IndexOf('.') + 1)] + new string('A', token.Length - token.IndexOf('.') - 1);
        await using var forger = await RoomClient.ConnectAsync(app, anonId: forged);
        var forgedSnapshot = await forger.JoinAsync(sessionId);
        Assert.NotEqual(forged, forgedSnapshot.GetProperty("viewerToken").GetString());
        var inventors = await Task.WhenAll(Enumerable.Range(0, 5).Select(i => RoomClient.ConnectAsync(app, anonId: token[..20] + i)));
        foreach (var c in inventors)
        {
            await c.JoinAsync(sessionId);
            for (var beat = 0; beat < 5; beat++)
            {
                await c.Connection.InvokeAsync("Heartbeat", sessionId, Ct);
            }
        }

        var (current, _) = await app.Services.GetRequiredService<ViewerPresence>().CountAsync(sessionId);
        Assert.Equal(1 + 1 + 5, current);

        await app.Services.GetRequiredService<ViewWriter>().FlushAsync();
        var viewers = await app.QueryAsync<string>("SELECT DISTINCT viewer_id FROM live_views WHERE session_id = @sessionId", new { sessionId });
        Assert.Equal(7, viewers.Count);
        Assert.DoesNotContain(viewers, v => v.Contains("made-up", StringComparison.Ordinal));
        foreach (var c in tabs.Concat(inventors))
        {
            await c.DisposeAsync();
        }
    }

    [Fact]
    public async Task Per_room_state_shrinks_when_members_leave_and_rooms_end()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        var registry = app.Services.GetRequiredService<RoomRegistry>();
        var recent = app.Services.GetRequiredService<RecentChat>();
        var coalescer = app.Services.GetRequiredService<ChatCoalescer>();
        var sessions = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            sessions.Add(await ChatTests.CreateSessionAsync(seller, $"room {i}"));
        }

        await using (var buyer = await RoomClient.ConnectAsync(app, await app.TokenAsync("buyer-1", "buyer")))
        await using (var viewer = await RoomClient.ConnectAsync(app))
        {
            foreach (var id in sessions)
            {
                await buyer.JoinAsync(id);
                await viewer.JoinAsync(id);
                await buyer.ChatAsync(id, "hi " + id);
            }

            Assert.Equal(3, registry.IndexSizes.Sessions);
            Assert.Equal(3, recent.RoomCount);

            // A made-up session id is refused and leaves nothing behind.
            var ex = await Assert.ThrowsAsync<HubException>(() => viewer.JoinAsync("no-such-session-0001"));
            Assert.Equal("SESSION_NOT_FOUND", ChatTests.CodeOf(ex.Message));
            await viewer.Connection.InvokeAsync("LeaveSession", "no-such-session-0001", Ct);
            Assert.Equal(3, registry.IndexSizes.Sessions);

            // The first room ends while both are still in it: its recent chat goes at once.
            Assert.Equal(HttpStatusCode.OK, (await seller.PostAsync($"/api/live/sessions/{sessions[0]}/end", null, Ct)).StatusCode);
            await PasarApp.EventuallyAsync(() => Task.FromResult(recent.RoomCount == 2), TimeSpan.FromSeconds(10), "the ended room's recent chat to go");

            // Both leave the second room: its index entry and recent chat go.
            await buyer.Connection.InvokeAsync("LeaveSession", sessions[1], Ct);
            await viewer.Connection.InvokeAsync("LeaveSession", sessions[1], Ct);
            Assert.Equal(2, registry.IndexSizes.Sessions);
            Assert.Equal(1, recent.RoomCount);
        }

        // Disconnecting empties the rest; the quiet rooms' chat queues go within a tick or two.
        await PasarApp.EventuallyAsync(() => Task.FromResult(registry.IndexSizes == (0, 0) && recent.RoomCount == 0 && coalescer.RoomCount == 0),
            TimeSpan.FromSeconds(10), $"every per-room entry to go (index {registry.IndexSizes}, recent {recent.RoomCount}, coalescer {coalescer.RoomCount})");

        // A room emptied and joined again loads its recent chat from SQL: nothing was lost with the cache.
        await using var again = await RoomClient.ConnectAsync(app);
        var snapshot = await again.JoinAsync(sessions[2]);
        Assert.Equal("hi " + sessions[2], snapshot.GetProperty("recentChat")[0].GetProperty("text").GetString());
    }

    [Fact]
    public async Task A_flash_sale_past_its_end_leaves_the_terms_cache()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var app = await PasarApp.StartAsync(Backend.Embedded, services: s => s.AddSingleton<TimeProvider>(clock));
        var show = await FlashSaleTests.OnAirAsync(app, stock: 10);
        var sale = await FlashSaleTests.StartSaleAsync(show.Seller, show.SessionId, new { productId = show.ProductId, salePriceMinor = 500, quantity = 5, durationSeconds = 10, perUserLimit = 1 });
        var saleId = sale.GetProperty("id").GetString()!;
        var token = await app.TokenAsync("buyer-1", "buyer");
        var token2 = await app.TokenAsync("buyer-2", "buyer");
        Assert.Equal(HttpStatusCode.Created, (await FlashSaleTests.BuyAsync(app.Client, token, saleId)).StatusCode);
        var service = app.Services.GetRequiredService<FlashSaleService>();
        Assert.Equal(1, service.CachedSales);

        clock.Advance(TimeSpan.FromSeconds(75));
        await service.CloseDueAsync(Ct);
        Assert.Equal(0, service.CachedSales);
        await (await FlashSaleTests.BuyAsync(app.Client, token2, saleId)).AssertProblemAsync(HttpStatusCode.Conflict, "SALE_NOT_ACTIVE");
        Assert.Equal(0, service.CachedSales);
    }

    [Fact]
    public async Task View_events_past_the_queue_bound_are_dropped_and_counted()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        var dropped = 0L;
        // Bound to this app's meter: other test apps in the process have instruments of the same name.
        var meter = app.Services.GetRequiredService<PasarMetrics>().Meter;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (ReferenceEquals(instrument.Meter, meter) && instrument.Name == "pasar.room.view_events_dropped")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref dropped, value));
        listener.Start();

        // A writer whose loop is not running stands for SQL that has fallen behind: its queue fills and stays full.
        using var stalled = new ViewWriter(app.Services.GetRequiredService<Database>(), NullLogger<ViewWriter>.Instance,
            app.Services.GetRequiredService<LiveRoomMetrics>(), capacity: 10);
        for (var i = 0; i < 25; i++)
        {
            stalled.Record(new ViewEvent($"view-{i}", "session-1", "a:viewer", null, ViewEventKind.Heartbeat, i));
        }

        Assert.Equal(15, Interlocked.Read(ref dropped));
    }

    [Fact]
    public async Task Two_thousand_refused_hub_calls_write_a_bounded_log_without_stack_traces()
    {
        var logs = new LogCapture();
        await using var app = await PasarApp.StartAsync(Backend.Embedded, services: logs.Register);
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        var sessionId = await ChatTests.CreateSessionAsync(seller);
        await using var spammer = await RoomClient.ConnectAsync(app, await app.TokenAsync("buyer-1", "buyer"));
        await spammer.JoinAsync(sessionId);
        logs.Clear();

        // Chat's own rate limit, a room never joined, and bad text: 2,000 refusals of three kinds.
        var codes = await CallManyAsync(2000, 16, i => (i % 3) switch
        {
            0 => spammer.ChatAsync(sessionId, "spam " + i),
            1 => spammer.ChatAsync("some-other-room", "spam"),
            _ => spammer.ChatAsync(sessionId, "\u0007"),
        });
        Assert.True(codes.Count(c => c is not null) >= 1990, string.Join(",", codes.Distinct()));

        var lines = logs.Lines;
        Assert.True(lines.Count <= 5, $"{lines.Count} log lines ({logs.Bytes} bytes), first: {lines.FirstOrDefault()?.Text}");
        Assert.DoesNotContain(lines, l => l.Exception is not null || l.Text.Contains("   at ", StringComparison.Ordinal));
    }
}
