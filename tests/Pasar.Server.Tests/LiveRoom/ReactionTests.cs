using System.Text.Json;
using Microsoft.AspNetCore.SignalR;
using Microsoft.AspNetCore.SignalR.Client;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.LiveRoom;

/// <summary>SPEC §16: reactions are counted per tick in the hot store and pushed as one frame of counts, never stored.</summary>
public sealed class ReactionTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Task ReactAsync(RoomClient client, string sessionId, string kind) =>
        client.Connection.InvokeAsync("SendReaction", sessionId, kind, Ct);

    /// <summary>Sums the <c>reactions</c> frames a watcher gets until <paramref name="hearts"/> hearts, then a quiet second.</summary>
    private static async Task<(long Heart, long Like, long Fire, long Clap, int Frames)> SumAsync(RoomClient watcher, long hearts)
    {
        long heart = 0, like = 0, fire = 0, clap = 0;
        var frames = 0;
        void Add(JsonElement e)
        {
            frames++;
            heart += e.GetProperty("heart").GetInt64();
            like += e.GetProperty("like").GetInt64();
            fire += e.GetProperty("fire").GetInt64();
            clap += e.GetProperty("clap").GetInt64();
        }

        while (heart < hearts)
        {
            Add(await watcher.NextAsync("reactions", TimeSpan.FromSeconds(10)));
        }

        await Task.Delay(1000, Ct);
        while (watcher.TryNext("reactions", out var more))
        {
            Add(more);
        }

        return (heart, like, fire, clap, frames);
    }

    private static async Task<long> RowsInAllTablesAsync(PasarApp app)
    {
        var tables = app.Backend == Backend.Scaled
            ? await app.QueryAsync<string>("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'")
            : await app.QueryAsync<string>("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'");
        long rows = 0;
        foreach (var t in tables.Where(t => !t.Contains("view", StringComparison.Ordinal) && !t.Contains("analytics", StringComparison.Ordinal)))
        {
            rows += await app.ScalarAsync<long>($"SELECT COUNT(*) FROM {t}");
        }

        return rows;
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Fifty_viewers_times_five_hearts_push_250_and_nothing_is_stored(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        var sessionId = await ChatTests.CreateSessionAsync(seller);
        await using var watcher = await RoomClient.ConnectAsync(app, anonId: "reaction-watcher");
        await watcher.JoinAsync(sessionId);
        var fans = await Task.WhenAll(Enumerable.Range(0, 50).Select(async i => await RoomClient.ConnectAsync(app, await app.TokenAsync($"fan-{i}", "buyer"), messagePack: i % 2 == 1)));
        foreach (var f in fans)
        {
            await f.JoinAsync(sessionId);
        }

        await Task.Delay(1000, Ct); // joins' own writes settle
        var rowsBefore = await RowsInAllTablesAsync(app);
        await Task.WhenAll(fans.Select(async (f, i) =>
        {
            for (var n = 0; n < 5; n++)
            {
                await ReactAsync(f, sessionId, "heart");
            }

            if (i < 10)
            {
                await ReactAsync(f, sessionId, "fire");
            }
        }));

        var sum = await SumAsync(watcher, 250);
        Assert.Equal((250, 0, 10, 0), (sum.Heart, sum.Like, sum.Fire, sum.Clap));
        Assert.True(sum.Frames < 260, $"counts arrive per tick, not per tap ({sum.Frames} frames)");
        var fanSum = await SumAsync(fans[7], 250); // a MessagePack viewer sees the same counts
        Assert.Equal(250, fanSum.Heart);
        Assert.Equal(rowsBefore, await RowsInAllTablesAsync(app));

        foreach (var f in fans)
        {
            await f.DisposeAsync();
        }
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task The_eleventh_reaction_in_a_second_is_refused_even_racing_on_two_connections(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        var sessionId = await ChatTests.CreateSessionAsync(seller);
        var token = await app.TokenAsync("buyer-1", "buyer");
        await using var phone = await RoomClient.ConnectAsync(app, token);
        await using var laptop = await RoomClient.ConnectAsync(app, token);
        await phone.JoinAsync(sessionId);
        await laptop.JoinAsync(sessionId);

        var results = await Task.WhenAll(Enumerable.Range(0, 11).Select(async i =>
        {
            try
            {
                await ReactAsync(i % 2 == 0 ? phone : laptop, sessionId, "like");
                return "OK";
            }
            catch (HubException ex)
            {
                return ChatTests.CodeOf(ex.Message);
            }
        }));
        Assert.Equal(10, results.Count(r => r == "OK"));
        Assert.Equal(1, results.Count(r => r == "RATE_LIMITED"));
        Assert.Equal(10, (await SumAsync(phone, 0)).Like);

        await Task.Delay(1100, Ct);
        await ReactAsync(phone, sessionId, "like"); // a new second, a new ten
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Bad_kinds_sessions_and_anonymous_taps_are_refused(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        var sessionId = await ChatTests.CreateSessionAsync(seller);
        var other = await ChatTests.CreateSessionAsync(seller, "another room");
        await using var buyer = await RoomClient.ConnectAsync(app, await app.TokenAsync("buyer-1", "buyer"));
        await using var anonymous = await RoomClient.ConnectAsync(app, anonId: "anon-tapper");
        await buyer.JoinAsync(sessionId);
        await anonymous.JoinAsync(sessionId);

        async Task<string?> CodeAsync(Func<Task> call) => ChatTests.CodeOf((await Assert.ThrowsAsync<HubException>(call)).Message);
        Assert.Equal("INVALID_REACTION", await CodeAsync(() => ReactAsync(buyer, sessionId, "angry")));
        Assert.Equal("INVALID_REACTION", await CodeAsync(() => ReactAsync(buyer, sessionId, "HEART")));
        Assert.Equal("INVALID_REACTION", await CodeAsync(() => buyer.Connection.InvokeAsync("SendReaction", sessionId, null, Ct)));
        Assert.Equal("NOT_JOINED", await CodeAsync(() => ReactAsync(buyer, other, "heart")));
        Assert.Equal("NOT_JOINED", await CodeAsync(() => ReactAsync(buyer, "no-such-room", "heart")));
        Assert.Equal("UNAUTHORIZED", await CodeAsync(() => ReactAsync(anonymous, sessionId, "heart")));

        // None of those counted: the first counted tap is the only one pushed.
        await ReactAsync(buyer, sessionId, "clap");
        var pushed = await SumAsync(anonymous, 0);
        Assert.Equal((0, 0, 0, 1), (pushed.Heart, pushed.Like, pushed.Fire, pushed.Clap));
    }

    [Fact]
    public async Task Counts_from_two_nodes_sum_exactly_on_both()
    {
        await using var nodeA = await PasarApp.StartAsync(Backend.Scaled);
        await using var nodeB = await PasarApp.StartAsync(Backend.Scaled, shareSettings: new(nodeA.Settings));
        using var seller = await nodeA.ClientAsAsync("seller-1", "seller");
        var sessionId = await ChatTests.CreateSessionAsync(seller);
        await using var watcherA = await RoomClient.ConnectAsync(nodeA, anonId: "watcher-a");
        await using var watcherB = await RoomClient.ConnectAsync(nodeB, anonId: "watcher-b");
        await watcherA.JoinAsync(sessionId);
        await watcherB.JoinAsync(sessionId);
        var fans = await Task.WhenAll(Enumerable.Range(0, 20).Select(async i => await RoomClient.ConnectAsync(i % 2 == 0 ? nodeA : nodeB, await nodeA.TokenAsync($"fan-{i}", "buyer"))));
        foreach (var f in fans)
        {
            await f.JoinAsync(sessionId);
        }

        await Task.WhenAll(fans.Select(async f =>
        {
            for (var n = 0; n < 5; n++)
            {
                await ReactAsync(f, sessionId, n % 2 == 0 ? "heart" : "clap");
            }
        }));

        foreach (var watcher in new[] { watcherA, watcherB })
        {
            var sum = await SumAsync(watcher, 60);
            Assert.Equal((60, 0, 0, 40), (sum.Heart, sum.Like, sum.Fire, sum.Clap));
        }

        foreach (var f in fans)
        {
            await f.DisposeAsync();
        }
    }
}
