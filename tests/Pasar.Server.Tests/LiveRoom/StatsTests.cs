using System.Net;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Pasar.Server.Live;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.LiveRoom;

public sealed class StatsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Stats_after_a_scripted_show_equal_the_numbers_worked_out_by_hand(Backend backend)
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var app = await PasarApp.StartAsync(backend, services: s => s.AddSingleton<TimeProvider>(clock));
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        var sessionId = await ChatTests.CreateSessionAsync(seller);
        var scarf = (await seller.CreateProductAsync(stock: 20, priceMinor: 1000)).GetProperty("id").GetString()!;
        var kebaya = (await seller.CreateProductAsync(stock: 20, priceMinor: 1500)).GetProperty("id").GetString()!;
        Assert.True(await app.Services.GetRequiredService<LiveSessionStore>().MarkLiveAsync(sessionId, Ct)); // first media arrived

        // Tokens are issued on the test clock and checked against the real one: issue them all at t = 0.
        using var buyer1 = await app.ClientAsAsync("buyer-1", "buyer");
        using var buyer2 = await app.ClientAsAsync("buyer-2", "buyer");
        using var outsider = await app.ClientAsAsync("buyer-9", "buyer");
        using var stranger = await app.ClientAsAsync("seller-2", "seller");
        using var admin = await app.ClientAsAsync("admin-1", "admin");

        // t = 0: two signed-in buyers and two anonymous browsers join.
        var b1Token = await app.TokenAsync("buyer-1", "buyer");
        var b1 = await RoomClient.ConnectAsync(app, b1Token);
        await using var b2 = await RoomClient.ConnectAsync(app, await app.TokenAsync("buyer-2", "buyer"));
        await using var a1 = await RoomClient.ConnectAsync(app, anonId: "anon-one-1111");
        var a2 = await RoomClient.ConnectAsync(app, anonId: "anon-two-2222");
        foreach (var c in new[] { b1, b2, a1, a2 })
        {
            await c.JoinAsync(sessionId);
        }

        await b1.ChatAsync(sessionId, "hello");
        await b2.ChatAsync(sessionId, "love the colours");

        // t = 60: buyer 1's page reloads (a second view by the same viewer).
        clock.Advance(TimeSpan.FromSeconds(60));
        await b1.DisposeAsync();
        await using var b1Again = await RoomClient.ConnectAsync(app, b1Token);
        await b1Again.JoinAsync(sessionId);
        await Task.Delay(1100, Ct); // the chat rate limit runs on the store's own (real) clock
        await b1Again.ChatAsync(sessionId, "back again");

        // Purchases: two viewers buy; a buyer who never watched does not count for the show.
        Assert.Equal(HttpStatusCode.Created, (await buyer1.PlaceOrderAsync(scarf, 2)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await buyer2.PlaceOrderAsync(kebaya, 1)).StatusCode);
        Assert.Equal(HttpStatusCode.Created, (await outsider.PlaceOrderAsync(scarf, 1)).StatusCode);

        // t = 120: the second anonymous browser leaves.
        clock.Advance(TimeSpan.FromSeconds(60));
        await a2.Connection.InvokeAsync("LeaveSession", sessionId, Ct);
        await a2.DisposeAsync();

        // t = 180: the three still watching heartbeat.
        clock.Advance(TimeSpan.FromSeconds(60));
        foreach (var c in new[] { b1Again, b2, a1 })
        {
            await c.Connection.InvokeAsync("Heartbeat", sessionId, Ct);
        }

        await PasarApp.EventuallyAsync(async () => await app.ScalarAsync<long>("SELECT COUNT(*) FROM outbox WHERE dispatched_at IS NULL") == 0,
            TimeSpan.FromSeconds(10), "the purchases to be attributed: " + string.Join("; ", await app.QueryAsync<string>("SELECT type || ' ' || COALESCE(last_error, '') FROM outbox WHERE dispatched_at IS NULL")));
        var stats = await (await seller.GetAsync($"/api/live/sessions/{sessionId}/stats", Ct)).JsonAsync();
        Assert.Equal(4, stats.GetProperty("uniqueViewers").GetInt64());
        Assert.Equal(5, stats.GetProperty("totalViews").GetInt64());
        Assert.Equal(4, stats.GetProperty("peakViewers").GetInt64());
        Assert.Equal(3, stats.GetProperty("currentViewers").GetInt64());
        // Views: 60 (buyer 1, first) + 120 (buyer 1, again) + 180 (buyer 2) + 180 (anon 1) + 120 (anon 2) = 660 s over 5.
        Assert.Equal(132.0, stats.GetProperty("avgWatchSeconds").GetDouble());
        Assert.Equal(3, stats.GetProperty("chatMessages").GetInt64());
        Assert.Equal(2, stats.GetProperty("purchases").GetInt64());
        Assert.Equal(3500, stats.GetProperty("gmvMinor").GetInt64());
        Assert.Equal(0.5, stats.GetProperty("conversionRate").GetDouble());
        Assert.All(stats.GetProperty("timeline").EnumerateArray(), s => Assert.InRange(s.GetProperty("viewers").GetInt64(), 0, 4));

        await (await stranger.GetAsync($"/api/live/sessions/{sessionId}/stats", Ct)).AssertProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        Assert.Equal(HttpStatusCode.OK, (await admin.GetAsync($"/api/live/sessions/{sessionId}/stats", Ct)).StatusCode);
    }
}
