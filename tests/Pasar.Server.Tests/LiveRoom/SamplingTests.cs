using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.AspNetCore.SignalR;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.LiveRoom;

/// <summary>SPEC §16: past the room's display cap each viewer gets a fair sample; the seller, moderators and one's own always show.</summary>
public sealed class SamplingTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private const int Cap = 10;

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_room_past_the_cap_is_shown_a_sample_but_keeps_everything(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend, s => s["Pasar:LiveRoom:MaxChatShownPerSecond"] = Cap.ToString());
        await RunBusyRoomAsync([app]);
    }

    [Fact]
    public async Task Two_nodes_show_every_viewer_the_same_sample()
    {
        await using var nodeA = await PasarApp.StartAsync(Backend.Scaled, s => s["Pasar:LiveRoom:MaxChatShownPerSecond"] = Cap.ToString());
        await using var nodeB = await PasarApp.StartAsync(Backend.Scaled, shareSettings: new(nodeA.Settings));
        await RunBusyRoomAsync([nodeA, nodeB]);
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Below_the_cap_everyone_gets_every_message(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        using var seller = await app.ClientAsAsync("seller-1", "seller", "Ayu");
        var sessionId = await ChatTests.CreateSessionAsync(seller);
        var chatters = await Task.WhenAll(Enumerable.Range(0, 5).Select(async i => await RoomClient.ConnectAsync(app, await app.TokenAsync($"quiet-{i}", "buyer"))));
        await using var viewer = await RoomClient.ConnectAsync(app, anonId: "quiet-viewer");
        await viewer.JoinAsync(sessionId);
        foreach (var c in chatters)
        {
            await c.JoinAsync(sessionId);
        }

        for (var round = 0; round < 3; round++)
        {
            await Task.WhenAll(chatters.Select((c, i) => c.ChatAsync(sessionId, $"quiet {i}/{round}")));
            await Task.Delay(1100, Ct);
        }

        var expected = Enumerable.Range(0, 5).SelectMany(i => Enumerable.Range(0, 3).Select(r => $"quiet {i}/{r}")).Order().ToArray();
        foreach (var c in chatters.Append(viewer))
        {
            var seen = await CollectUntilAsync(c, s => s.Count >= expected.Length);
            Assert.Equal(expected, seen.Select(m => m.Text).Order().ToArray());
        }

        foreach (var c in chatters)
        {
            await c.DisposeAsync();
        }
    }

    private sealed record Seen(string Id, string UserId, string Text);

    /// <summary>
    /// Chatters at about 3× the cap for a few seconds, the seller and a moderator once a second, viewers on every node.
    /// Each viewer is shown about the cap, every seller and moderator line, and each chatter its own; SQL has all.
    /// </summary>
    private static async Task RunBusyRoomAsync(PasarApp[] nodes)
    {
        var first = nodes[0];
        using var owner = await first.ClientAsAsync("seller-1", "seller", "Ayu");
        var sessionId = await ChatTests.CreateSessionAsync(owner);
        using var moderator = await first.ClientAsAsync("mod-1", "buyer", "Mod");
        (await moderator.GetAsync("/api/me/orders", Ct)).EnsureSuccessStatusCode(); // the first request records the user
        Assert.True((await ModeratorTests.AppointAsync(owner, sessionId, "mod-1")).IsSuccessStatusCode);

        var node = 0;
        PasarApp Next() => nodes[node++ % nodes.Length];
        var chatters = await Task.WhenAll(Enumerable.Range(0, 36).Select(async i => await RoomClient.ConnectAsync(nodes[i % nodes.Length], await first.TokenAsync($"chatter-{i}", "buyer"))));
        var viewers = await Task.WhenAll(Enumerable.Range(0, 6).Select(i => RoomClient.ConnectAsync(nodes[i % nodes.Length], anonId: $"watcher-{i}")));
        await using var sellerRoom = await RoomClient.ConnectAsync(Next(), await first.TokenAsync("seller-1", "seller", "Ayu"));
        await using var modRoom = await RoomClient.ConnectAsync(Next(), await first.TokenAsync("mod-1", "buyer", "Mod"));
        RoomClient[] everyone = [.. chatters, .. viewers, sellerRoom, modRoom];
        foreach (var c in everyone)
        {
            await c.JoinAsync(sessionId);
        }

        var sent = new ConcurrentDictionary<string, ConcurrentBag<string>>();
        var run = TimeSpan.FromSeconds(7);
        var clock = Stopwatch.StartNew();
        async Task ChatLoop(RoomClient client, string who, TimeSpan every, int seed)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(seed * 37 % 1200), Ct);
            for (var n = 0; clock.Elapsed < run; n++)
            {
                var text = $"{who} line {n}";
                try
                {
                    await client.ChatAsync(sessionId, text);
                    sent.GetOrAdd(who, _ => []).Add(text);
                }
                catch (HubException ex) when (ChatTests.CodeOf(ex.Message) == "RATE_LIMITED")
                {
                }

                await Task.Delay(every, Ct);
            }
        }

        await Task.WhenAll(chatters.Select((c, i) => ChatLoop(c, $"chatter-{i}", TimeSpan.FromMilliseconds(1200), i))
            .Append(ChatLoop(sellerRoom, "seller-1", TimeSpan.FromMilliseconds(1050), 0))
            .Append(ChatLoop(modRoom, "mod-1", TimeSpan.FromMilliseconds(1050), 5)));
        var seconds = clock.Elapsed.TotalSeconds + 0.5;
        var total = sent.Values.Sum(b => b.Count);
        Assert.True(total > 3 * Cap * 6, $"the room had to run past the cap: {total} messages in {seconds:F1} s");

        var priority = sent["seller-1"].Concat(sent["mod-1"]).ToHashSet();
        await Task.Delay(1500, Ct); // the last ticks reach every node
        var shownSets = new List<HashSet<string>>();
        for (var i = 0; i < everyone.Length; i++)
        {
            var client = everyone[i];
            var who = i < chatters.Length ? $"chatter-{i}" : client == sellerRoom ? "seller-1" : client == modRoom ? "mod-1" : null;
            var seen = Drain(client);
            Assert.Equal(seen.Count, seen.Select(m => m.Id).Distinct().Count()); // no message twice
            var own = who is null ? [] : sent.GetValueOrDefault(who)?.ToHashSet() ?? [];
            var texts = seen.Select(m => m.Text).ToHashSet();
            Assert.Superset(own, texts);
            Assert.Superset(priority, texts);
            var others = seen.Where(m => m.UserId != who).ToList();
            Assert.True(others.Count <= 1.2 * Cap * seconds, $"a viewer was shown {others.Count} others' messages in {seconds:F1} s (cap {Cap}/s)");
            Assert.True(others.Count >= 0.5 * Cap * seconds, $"a viewer was shown only {others.Count} others' messages in {seconds:F1} s");
            // What the room was shown, less one's own lines left out for others: the same for every viewer, on every node.
            shownSets.Add(others.Where(m => !own.Contains(m.Text)).Select(m => m.Id).ToHashSet());
        }

        var pureViewers = shownSets.Skip(chatters.Length).Take(viewers.Length).ToList();
        Assert.All(pureViewers, s => Assert.Equal(pureViewers[0], s));

        // Every accepted message is stored and in history.
        var deadline = DateTime.UtcNow.AddSeconds(10);
        long stored;
        while ((stored = await first.ScalarAsync<long>("SELECT COUNT(*) FROM chat_messages WHERE session_id = @sessionId", new { sessionId })) < total && DateTime.UtcNow < deadline)
        {
            await Task.Delay(200, Ct);
        }

        Assert.Equal(total, stored);
        var history = await (await first.Client.GetAsync($"/api/live/sessions/{sessionId}/chat?limit=100", Ct)).JsonAsync();
        Assert.Equal(Math.Min(100, total), history.GetProperty("items").GetArrayLength());

        foreach (var c in chatters.Concat(viewers))
        {
            await c.DisposeAsync();
        }
    }

    private static List<Seen> Drain(RoomClient client)
    {
        var seen = new List<Seen>();
        while (client.TryNext("chat", out var frame))
        {
            foreach (var m in frame.EnumerateArray())
            {
                seen.Add(new Seen(m.GetProperty("id").GetString()!, m.GetProperty("userId").GetString()!, m.GetProperty("text").GetString()!));
            }
        }

        return seen;
    }

    private static async Task<List<Seen>> CollectUntilAsync(RoomClient client, Func<List<Seen>, bool> done)
    {
        var seen = new List<Seen>();
        var deadline = DateTime.UtcNow.AddSeconds(10);
        while (!done(seen) && DateTime.UtcNow < deadline)
        {
            var frame = await client.NextAsync("chat", deadline - DateTime.UtcNow);
            seen.AddRange(frame.EnumerateArray().Select(m => new Seen(m.GetProperty("id").GetString()!, m.GetProperty("userId").GetString()!, m.GetProperty("text").GetString()!)));
        }

        return seen;
    }
}
