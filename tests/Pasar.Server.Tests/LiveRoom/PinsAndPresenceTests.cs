using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.LiveRoom;

public sealed class PinsAndPresenceTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Pinning_seven_leaves_the_newest_five_in_order_for_everyone_and_survives_a_restart(Backend backend)
    {
        var app = await PasarApp.StartAsync(backend);
        string sessionId;
        var products = new List<string>();
        await using (app)
        {
            using var seller = await app.ClientAsAsync("seller-1", "seller");
            using var other = await app.ClientAsAsync("seller-2", "seller");
            sessionId = await ChatTests.CreateSessionAsync(seller);
            for (var i = 0; i < 7; i++)
            {
                products.Add((await seller.CreateProductAsync(title: $"Product {i}")).GetProperty("id").GetString()!);
            }

            var foreign = (await other.CreateProductAsync()).GetProperty("id").GetString()!;
            await using var viewerA = await RoomClient.ConnectAsync(app, anonId: "viewer-aaaaaaaa");
            await using var viewerB = await RoomClient.ConnectAsync(app, anonId: "viewer-bbbbbbbb", messagePack: true);
            await viewerA.JoinAsync(sessionId);
            await viewerB.JoinAsync(sessionId);

            foreach (var p in products)
            {
                Assert.Equal(HttpStatusCode.OK, (await seller.PostAsJsonAsync($"/api/live/sessions/{sessionId}/pins", new { productId = p }, Ct)).StatusCode);
            }

            var expected = products.Skip(2).ToList();
            foreach (var viewer in new[] { viewerA, viewerB })
            {
                var last = await viewer.WaitForAsync("pinsUpdated", e => e.GetProperty("pinned").GetArrayLength() == 5 &&
                    e.GetProperty("pinned")[4].GetProperty("productId").GetString() == products[6]);
                Assert.Equal(expected, last.GetProperty("pinned").EnumerateArray().Select(p => p.GetProperty("productId").GetString()!));
                Assert.Equal("Product 6", last.GetProperty("pinned")[4].GetProperty("title").GetString());
            }

            // Re-pinning a pinned product moves it to the newest place.
            var moved = await (await seller.PostAsJsonAsync($"/api/live/sessions/{sessionId}/pins", new { productId = products[2] }, Ct)).JsonAsync();
            Assert.Equal([products[3], products[4], products[5], products[6], products[2]], moved.GetProperty("pinned").EnumerateArray().Select(p => p.GetProperty("productId").GetString()!));

            await (await seller.PostAsJsonAsync($"/api/live/sessions/{sessionId}/pins", new { productId = foreign }, Ct)).AssertProblemAsync(HttpStatusCode.Forbidden, "NOT_YOUR_PRODUCT");
            await (await other.PostAsJsonAsync($"/api/live/sessions/{sessionId}/pins", new { productId = foreign }, Ct)).AssertProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
            await (await seller.PostAsJsonAsync($"/api/live/sessions/{sessionId}/pins", new { productId = "nope" }, Ct)).AssertProblemAsync(HttpStatusCode.NotFound, "PRODUCT_NOT_FOUND");
            app.KeepDataOnDispose = true;
        }

        await using var restarted = await PasarApp.StartAsync(backend, shareSettings: new(app.Settings), restart: true);
        var session = await (await restarted.Client.GetAsync($"/api/live/sessions/{sessionId}", Ct)).JsonAsync();
        Assert.Equal([products[3], products[4], products[5], products[6], products[2]], session.GetProperty("pinned").EnumerateArray().Select(p => p.GetProperty("productId").GetString()!));
        await using var late = await RoomClient.ConnectAsync(restarted, anonId: "viewer-cccccccc");
        var snapshot = await late.JoinAsync(sessionId);
        Assert.Equal(5, snapshot.GetProperty("pinned").GetArrayLength());
    }

    [Fact]
    public async Task A_thousand_viewers_then_four_hundred_stop_current_falls_to_600_and_peak_stays_1000()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var app = await PasarApp.StartAsync(Backend.Embedded, services: s => s.AddSingleton<TimeProvider>(clock));
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        var sessionId = await ChatTests.CreateSessionAsync(seller);
        await using var watcher = await RoomClient.ConnectAsync(app, anonId: "the-watcher-0000");
        await watcher.JoinAsync(sessionId);

        var viewers = new List<RoomClient>();
        for (var batch = 0; batch < 10; batch++)
        {
            viewers.AddRange(await Task.WhenAll(Enumerable.Range(batch * 100, 100).Select(i => RoomClient.ConnectAsync(app, anonId: $"viewer-{i:D6}"))));
        }

        await Task.WhenAll(viewers.Take(999).Select(v => v.JoinAsync(sessionId)));
        clock.Advance(TimeSpan.FromSeconds(1));
        var counted = await watcher.WaitForAsync("viewersUpdated", e => e.GetProperty("current").GetInt64() == 1000);
        Assert.Equal(1000, counted.GetProperty("peak").GetInt64());

        // 600 (the watcher and 599 others) keep heartbeating every 15 s; 400 go quiet without leaving.
        var staying = viewers.Take(599).ToList();
        for (var beat = 0; beat < 3; beat++)
        {
            clock.Advance(TimeSpan.FromSeconds(15));
            await Task.WhenAll(staying.Append(watcher).Select(v => v.Connection.InvokeAsync("Heartbeat", sessionId, Ct)));
        }

        // 45 s after the quiet ones' last heartbeat each has expired on its own. The count is pushed by the
        // next once-a-second tick (one node per room per real second), so let the clock tick on.
        System.Text.Json.JsonElement settled = default;
        await PasarApp.EventuallyAsync(async () =>
        {
            clock.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(1000, Ct);
            while (watcher.TryNext("viewersUpdated", out var e))
            {
                settled = e;
            }

            return settled.ValueKind != System.Text.Json.JsonValueKind.Undefined && settled.GetProperty("current").GetInt64() == 600;
        }, TimeSpan.FromSeconds(15), "viewersUpdated with 600 current viewers");
        Assert.Equal(1000, settled.GetProperty("peak").GetInt64());
        var session = await (await app.Client.GetAsync($"/api/live/sessions/{sessionId}", Ct)).JsonAsync();
        Assert.Equal(600, session.GetProperty("viewers").GetProperty("current").GetInt64());
        Assert.Equal(1000, session.GetProperty("viewers").GetProperty("peak").GetInt64());
        foreach (var v in viewers)
        {
            await v.DisposeAsync();
        }
    }

    [Fact]
    public async Task The_peak_survives_losing_the_hot_state()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        var sessionId = await ChatTests.CreateSessionAsync(seller);
        var early = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => RoomClient.ConnectAsync(app, anonId: $"early-viewer-{i}")));
        foreach (var v in early)
        {
            await v.JoinAsync(sessionId);
        }

        await PasarApp.EventuallyAsync(async () => await app.ScalarAsync<long?>("SELECT peak_viewers FROM live_room_stats WHERE session_id = @sessionId", new { sessionId }) == 3,
            TimeSpan.FromSeconds(10), "the peak of 3 to be kept in SQL");
        foreach (var v in early)
        {
            await v.DisposeAsync();
        }

        var store = app.Services.GetRequiredService<Pasar.Server.Platform.Redis.HotStore>();
        var keys = new List<StackExchange.Redis.RedisKey>();
        await foreach (var key in store.Connection.GetServers().First().KeysAsync(pattern: store.KeyPrefix + "*"))
        {
            keys.Add(key);
        }

        await store.Connection.GetDatabase().KeyDeleteAsync(keys.ToArray());
        await using var late = await RoomClient.ConnectAsync(app, anonId: "late-viewer-1");
        var snapshot = await late.JoinAsync(sessionId);
        Assert.Equal(1, snapshot.GetProperty("viewers").GetProperty("current").GetInt64());
        Assert.Equal(3, snapshot.GetProperty("viewers").GetProperty("peak").GetInt64());
    }
}
