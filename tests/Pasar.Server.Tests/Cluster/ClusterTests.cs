using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Pasar.Server.Live;
using Pasar.Server.Platform.Auth;
using Pasar.Server.Tests.FlashSales;
using Pasar.Server.Tests.Infrastructure;
using Pasar.Server.Tests.LiveRoom;

namespace Pasar.Server.Tests.Cluster;

/// <summary>Two Pasar nodes on loopback sharing one PostgreSQL and one Redis, as behind a load balancer.</summary>
public sealed class ClusterTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Two_nodes_share_chat_presence_pushes_and_a_flash_sale()
    {
        await using var nodeA = await PasarApp.StartAsync(Backend.Scaled);
        await using var nodeB = await PasarApp.StartAsync(Backend.Scaled, shareSettings: new(nodeA.Settings));
        using var seller = await nodeA.ClientAsAsync("seller-1", "seller", "Ayu");
        var sessionId = await ChatTests.CreateSessionAsync(seller);

        // Chat sent through node A reaches a viewer on node B.
        await using var chatterOnA = await RoomClient.ConnectAsync(nodeA, await nodeA.TokenAsync("buyer-a", "buyer", "Citra"));
        await using var viewerOnB = await RoomClient.ConnectAsync(nodeB, anonId: "viewer-on-node-b");
        await chatterOnA.JoinAsync(sessionId);
        await viewerOnB.JoinAsync(sessionId);
        await chatterOnA.ChatAsync(sessionId, "hello from node A");
        var frame = await viewerOnB.NextAsync("chat");
        Assert.Equal("hello from node A", frame[0].GetProperty("text").GetString());

        // Presence counts the viewers of both nodes.
        var moreOnA = await Task.WhenAll(Enumerable.Range(0, 3).Select(i => RoomClient.ConnectAsync(nodeA, anonId: $"extra-viewer-a-{i}")));
        var moreOnB = await Task.WhenAll(Enumerable.Range(0, 2).Select(i => RoomClient.ConnectAsync(nodeB, anonId: $"extra-viewer-b-{i}")));
        foreach (var c in moreOnA.Concat(moreOnB))
        {
            await c.JoinAsync(sessionId);
        }

        var viewers = await viewerOnB.WaitForAsync("viewersUpdated", e => e.GetProperty("current").GetInt64() == 7, TimeSpan.FromSeconds(15));
        Assert.Equal(7, viewers.GetProperty("peak").GetInt64());
        var fromA = await (await nodeA.Client.GetAsync($"/api/live/sessions/{sessionId}", Ct)).JsonAsync();
        Assert.Equal(7, fromA.GetProperty("viewers").GetProperty("current").GetInt64());

        // A notification written by node A reaches the user's page on node B (SignalR's Redis backplane).
        await using var pageOnB = await RoomClient.ConnectAsync(nodeB, await nodeB.TokenAsync("buyer-n", "buyer"));
        using var userOnA = await nodeA.ClientAsAsync("buyer-n", "buyer");
        await userOnA.PostAsync("/api/me/check-ins", null, Ct);
        Assert.Equal("COINS_EARNED", (await pageOnB.NextAsync("notification", TimeSpan.FromSeconds(15))).GetProperty("type").GetString());

        // A flash sale tapped through both nodes sells exactly its quantity.
        var productId = (await seller.CreateProductAsync(stock: 300, priceMinor: 8_000)).GetProperty("id").GetString()!;
        Assert.True(await nodeA.Services.GetRequiredService<LiveSessionStore>().MarkLiveAsync(sessionId, Ct));
        var sale = await FlashSaleTests.StartSaleAsync(seller, sessionId, new { productId, salePriceMinor = 4_000, quantity = 100, perUserLimit = 1 });
        var saleId = sale.GetProperty("id").GetString()!;
        var keys = nodeA.Services.GetRequiredService<TokenKeys>();
        var tokens = Enumerable.Range(0, 1000).Select(i => keys.Issue($"crowd-{i}", "buyer", null)).ToArray();
        using var httpA = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = nodeA.BaseAddress };
        using var httpB = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 64 }) { BaseAddress = nodeB.BaseAddress };
        var created = new ConcurrentBag<int>();
        await Parallel.ForEachAsync(Enumerable.Range(0, 3000), new ParallelOptions { MaxDegreeOfParallelism = 96, CancellationToken = Ct }, async (n, _) =>
        {
            using var response = await FlashSaleTests.BuyAsync(n % 2 == 0 ? httpA : httpB, tokens[n % 1000], saleId);
            if (response.StatusCode == HttpStatusCode.Created)
            {
                created.Add(n % 1000);
            }
            else
            {
                Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
            }
        });

        Assert.Equal(100, created.Count);
        Assert.Equal(100, created.Distinct().Count());
        Assert.Equal(100L, await nodeB.ScalarAsync<long>("SELECT COUNT(*) FROM orders WHERE flash_sale_id = @saleId", new { saleId }));
        foreach (var c in moreOnA.Concat(moreOnB))
        {
            await c.DisposeAsync();
        }
    }
}
