using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;
using Pasar.Server.Live;
using Pasar.Server.Platform.Auth;
using Pasar.Server.Tests.Infrastructure;
using Pasar.Testing;

namespace Pasar.Server.Tests.Live;

/// <summary>Reminders exactly once across a kill -9 and restart of the node, and with two nodes on one database.</summary>
[Collection(FfmpegCollection.Name)]
public sealed class ScheduledShowRestartTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Two_subscribers_get_one_reminder_and_one_go_live_each_across_a_kill_and_restart(Backend backend)
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "pasar-show-restart-" + Guid.NewGuid().ToString("N")[..8]);
        var settings = await PasarApp.SettingsForAsync(backend, dataDir);
        ScheduledShowTests.ShortTimes(settings);
        settings["Pasar:Rtmp:Port"] = LocalServers.FreePort().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var port = LocalServers.FreePort();
        string id, key;
        try
        {
            await using (var server = await ServerProcess.StartAsync(settings, port))
            {
                using var seller = server.NewClient(await server.TokenAsync("seller-1", "seller"));
                var show = await (await seller.PostAsJsonAsync("/api/live/sessions", new { title = "Restart show", scheduledAt = DateTimeOffset.UtcNow.AddSeconds(6) }, Ct)).JsonAsync();
                id = show.GetProperty("id").GetString()!;
                key = show.GetProperty("streamKey").GetString()!;
                foreach (var user in new[] { "buyer-1", "buyer-2" })
                {
                    using var buyer = server.NewClient(await server.TokenAsync(user, "buyer"));
                    Assert.Equal(HttpStatusCode.NoContent, (await buyer.PutAsync($"/api/live/sessions/{id}/reminders", null, Ct)).StatusCode);
                }

                using var follower = server.NewClient(await server.TokenAsync("buyer-2", "buyer"));
                Assert.True((await follower.PutAsync("/api/me/following/seller-1", null, Ct)).IsSuccessStatusCode);
                foreach (var user in new[] { "buyer-1", "buyer-2" })
                {
                    using var buyer = server.NewClient(await server.TokenAsync(user, "buyer"));
                    await ScheduledShowTests.WaitForAsync(buyer, "SHOW_STARTING", id);
                }

                server.Kill(); // no clean shutdown: whatever the fan-out held is left as a crash leaves it
            }

            await using var restarted = await ServerProcess.StartAsync(settings, port);
            await using (var publisher = Ffmpeg.Publish(int.Parse(settings["Pasar:Rtmp:Port"]!, System.Globalization.CultureInfo.InvariantCulture), key, seconds: 4, size: "320x240"))
            {
                using var anyone = restarted.NewClient();
                await PasarApp.EventuallyAsync(async () => (await anyone.SessionAsync(id)).GetProperty("status").GetString() == "live", TimeSpan.FromSeconds(30), "the early publish to go live");
                foreach (var user in new[] { "buyer-1", "buyer-2" })
                {
                    using var buyer = restarted.NewClient(await restarted.TokenAsync(user, "buyer"));
                    await ScheduledShowTests.WaitForAsync(buyer, "SELLER_LIVE", id);
                }
            }

            await Task.Delay(2500, Ct); // the follower fan-out and anything a restart could repeat have run
            foreach (var user in new[] { "buyer-1", "buyer-2" })
            {
                using var buyer = restarted.NewClient(await restarted.TokenAsync(user, "buyer"));
                Assert.Single(await ScheduledShowTests.NotificationsAsync(buyer, "SHOW_STARTING", id));
                Assert.Single(await ScheduledShowTests.NotificationsAsync(buyer, "SELLER_LIVE", id));
            }
        }
        finally
        {
            try
            {
                Directory.Delete(dataDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }

    [Fact]
    public async Task Two_nodes_send_each_reminder_once_and_push_it_once()
    {
        await using var nodeA = await PasarApp.StartAsync(Backend.Scaled, ScheduledShowTests.ShortTimes);
        await using var nodeB = await PasarApp.StartAsync(Backend.Scaled, shareSettings: new(nodeA.Settings));
        using var seller = await nodeA.ClientAsAsync("seller-1", "seller");
        var id = (await ScheduledShowTests.ScheduleAsync(seller, TimeSpan.FromSeconds(15))).GetProperty("id").GetString()!;
        var keys = nodeA.Services.GetRequiredService<TokenKeys>();
        const int subscribers = 40;
        var pushes = new ConcurrentDictionary<string, int>();
        var hubs = new List<HubConnection>();
        for (var i = 0; i < subscribers; i++)
        {
            var user = $"buyer-{i:00}";
            var token = keys.Issue(user, "buyer", null);
            using var http = new HttpClient { BaseAddress = (i % 2 == 0 ? nodeA : nodeB).BaseAddress };
            http.DefaultRequestHeaders.Authorization = new("Bearer", token);
            Assert.Equal(HttpStatusCode.NoContent, (await http.PutAsync($"/api/live/sessions/{id}/reminders", null, Ct)).StatusCode);
            var hub = new HubConnectionBuilder().WithUrl(new Uri((i % 2 == 1 ? nodeA : nodeB).BaseAddress, "/hubs/live"), o => o.AccessTokenProvider = () => Task.FromResult<string?>(token)).Build();
            hub.On<System.Text.Json.JsonElement>("notification", n =>
            {
                if (n.GetProperty("type").GetString() == "SHOW_STARTING")
                {
                    pushes.AddOrUpdate(user, 1, (_, v) => v + 1);
                }
            });
            await hub.StartAsync(Ct);
            hubs.Add(hub);
        }

        await PasarApp.EventuallyAsync(async () => await nodeA.ScalarAsync<long>(
            "SELECT COUNT(*) FROM notifications WHERE type = 'SHOW_STARTING' AND id LIKE @prefix", new { prefix = $"SHOW_STARTING:{id}:%" }) == subscribers,
            TimeSpan.FromSeconds(30), "every subscriber's reminder");
        await PasarApp.EventuallyAsync(() => Task.FromResult(pushes.Count == subscribers), TimeSpan.FromSeconds(10), "every subscriber's push");
        await Task.Delay(2000, Ct);
        Assert.All(pushes.Values, v => Assert.Equal(1, v));
        Assert.Equal((long)subscribers, await nodeA.ScalarAsync<long>("SELECT COUNT(DISTINCT user_id) FROM notifications WHERE type = 'SHOW_STARTING'"));
        Assert.Equal((long)subscribers, await nodeA.ScalarAsync<long>("SELECT delivered FROM show_notices WHERE type = 'SHOW_STARTING'"));
        foreach (var hub in hubs)
        {
            await hub.DisposeAsync();
        }
    }
}
