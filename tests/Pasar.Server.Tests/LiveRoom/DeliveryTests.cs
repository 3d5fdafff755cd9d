using System.Net.WebSockets;
using System.Text;
using Microsoft.Extensions.DependencyInjection;
using Pasar.Server.LiveRoom;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.LiveRoom;

public sealed class DeliveryTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_viewer_that_stops_reading_is_dropped_and_the_others_get_every_frame()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded, s => s["Pasar:Chat:MaxPendingWrites"] = "16");
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        var sessionId = await ChatTests.CreateSessionAsync(seller);
        await using var healthy = await RoomClient.ConnectAsync(app, anonId: "healthy-viewer-1");
        var healthyToken = (await healthy.JoinAsync(sessionId)).GetProperty("viewerToken").GetString();

        // A raw WebSocket client that speaks just enough of the protocol to join, then never reads again.
        using var stalled = new ClientWebSocket();
        var wsUri = new UriBuilder(app.BaseAddress) { Scheme = "ws", Path = "/hubs/live", Query = "anonId=stalled-viewer-1" }.Uri;
        await stalled.ConnectAsync(wsUri, Ct);
        await SendAsync(stalled, "{\"protocol\":\"json\",\"version\":1}\u001e");
        await ReadFrameAsync(stalled);
        await SendAsync(stalled, $"{{\"type\":1,\"invocationId\":\"1\",\"target\":\"JoinSession\",\"arguments\":[\"{sessionId}\"]}}\u001e");
        await ReadFrameAsync(stalled);
        var registry = app.Services.GetRequiredService<RoomRegistry>();
        Assert.Equal(2, registry.InSession(sessionId).Count());

        // A busy room: 400 frames of 100 messages each (about 16 MB), more than socket buffers hold, paced so
        // that a client that does read keeps up even on a busy machine.
        var broadcaster = app.Services.GetRequiredService<RoomBroadcaster>();
        var text = new string('x', 280);
        const int frames = 400;
        for (var f = 0; f < frames; f++)
        {
            var batch = Enumerable.Range(0, 100).Select(i => new ChatMessage($"m{f}-{i}", sessionId, "u", "User", text, DateTimeOffset.UtcNow)).ToArray();
            await broadcaster.PublishAsync(RoomTarget.Session, sessionId, "chat", batch);
            if (f % 4 == 0)
            {
                await Task.Delay(10, Ct);
            }
        }

        for (var f = 0; f < frames; f++)
        {
            var frame = await healthy.NextAsync("chat", TimeSpan.FromSeconds(30));
            Assert.Equal($"m{f}-0", frame[0].GetProperty("id").GetString());
        }

        await PasarApp.EventuallyAsync(() => Task.FromResult(registry.InSession(sessionId).Count() == 1), TimeSpan.FromSeconds(30), "the stalled viewer to be dropped");
        Assert.Equal(healthyToken, registry.InSession(sessionId).Single().ViewerToken); // viewer ids are issued by the server
    }

    [Fact]
    public async Task A_new_notification_is_pushed_to_the_users_open_page()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        var token = await app.TokenAsync("buyer-1", "buyer");
        await using var page = await RoomClient.ConnectAsync(app, token);
        using var user = await app.ClientAsAsync("buyer-1", "buyer");
        await user.PostAsync("/api/me/check-ins", null, Ct);
        var pushed = await page.NextAsync("notification");
        Assert.Equal("COINS_EARNED", pushed.GetProperty("type").GetString());
        Assert.Equal(10, pushed.GetProperty("data").GetProperty("amount").GetInt64());
        var stored = await (await user.GetAsync("/api/me/notifications", Ct)).JsonAsync();
        Assert.Equal(stored.GetProperty("items")[0].GetProperty("id").GetString(), pushed.GetProperty("id").GetString());
    }

    private static Task SendAsync(ClientWebSocket socket, string text) =>
        socket.SendAsync(Encoding.UTF8.GetBytes(text), WebSocketMessageType.Text, true, Ct);

    private static async Task ReadFrameAsync(ClientWebSocket socket)
    {
        var buffer = new byte[64 * 1024];
        WebSocketReceiveResult result;
        do
        {
            result = await socket.ReceiveAsync(buffer, Ct);
        }
        while (!result.EndOfMessage);
    }
}
