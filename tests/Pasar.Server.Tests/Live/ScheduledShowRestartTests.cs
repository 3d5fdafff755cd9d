using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using Dapper;
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
    public async Task A_kill_in_the_middle_of_a_reminder_fan_out_resumes_after_restart_and_reminds_everyone_once()
    {
        var dataDir = Path.Combine(Path.GetTempPath(), "pasar-show-fanout-crash-" + Guid.NewGuid().ToString("N")[..8]);
        var settings = await PasarApp.SettingsForAsync(Backend.Scaled, dataDir);
        ScheduledShowTests.ShortTimes(settings); // batches of 7
        var port = LocalServers.FreePort();
        await using var db = PasarApp.DatabaseFor(settings);
        const int subscribers = 200;
        string id;
        await using (var server = await ServerProcess.StartAsync(settings, port))
        {
            using var seller = server.NewClient(await server.TokenAsync("seller-1", "seller"));
            id = (await (await seller.PostAsJsonAsync("/api/live/sessions", new { title = "Crash show", scheduledAt = DateTimeOffset.UtcNow.AddSeconds(8) }, Ct)).JsonAsync()).GetProperty("id").GetString()!;
            using (var buyer = server.NewClient(await server.TokenAsync("buyer-000", "buyer")))
            {
                Assert.Equal(HttpStatusCode.NoContent, (await buyer.PutAsync($"/api/live/sessions/{id}/reminders", null, Ct)).StatusCode);
            }

            // The other subscribers straight into SQL, and each reminder made slow (50 ms inside its batch's
            // transaction), so the fan-out runs about ten seconds.
            await db.InTransactionAsync(async (c, tx) => await c.ExecuteAsync(
                """
                INSERT INTO show_reminders (session_id, user_id, created_at)
                SELECT @id, 'buyer-' || lpad(i::text, 3, '0'), 0 FROM generate_series(1, @more) AS i;
                CREATE FUNCTION slow_reminder() RETURNS trigger AS $$
                BEGIN
                  IF NEW.type = 'SHOW_STARTING' THEN PERFORM pg_sleep(0.05); END IF;
                  RETURN NEW;
                END $$ LANGUAGE plpgsql;
                CREATE TRIGGER slow_reminder BEFORE INSERT ON notifications FOR EACH ROW EXECUTE FUNCTION slow_reminder();
                """, new { id, more = subscribers - 1 }, tx), Ct);
            await PasarApp.EventuallyAsync(async () =>
            {
                await using var c = await db.OpenAsync(Ct);
                return await c.ExecuteScalarAsync<long>("SELECT delivered FROM show_notices WHERE session_id = @id AND type = 'SHOW_STARTING' AND done_at IS NULL", new { id }) >= 30;
            }, TimeSpan.FromSeconds(40), "the reminder fan-out to be part way");
            server.Kill();
        }

        await using (var c = await db.OpenAsync(Ct))
        {
            var written = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM notifications WHERE type = 'SHOW_STARTING'");
            Assert.InRange(written, 30, subscribers - 1); // killed part way: some reminded, not all
            Assert.Equal(written, await c.ExecuteScalarAsync<long>("SELECT delivered FROM show_notices WHERE session_id = @id AND type = 'SHOW_STARTING'", new { id }));
        }

        await db.InTransactionAsync(async (c, tx) => await c.ExecuteAsync("DROP TRIGGER slow_reminder ON notifications; DROP FUNCTION slow_reminder()", transaction: tx), Ct);
        await using var restarted = await ServerProcess.StartAsync(settings, port);
        await PasarApp.EventuallyAsync(async () =>
        {
            await using var c = await db.OpenAsync(Ct);
            return await c.ExecuteScalarAsync<long?>("SELECT done_at FROM show_notices WHERE session_id = @id AND type = 'SHOW_STARTING'", new { id }) is not null;
        }, TimeSpan.FromSeconds(40), "the restarted node to finish the fan-out once the lease lapsed");
        await using (var c = await db.OpenAsync(Ct))
        {
            Assert.Equal((long)subscribers, await c.ExecuteScalarAsync<long>("SELECT COUNT(DISTINCT user_id) FROM notifications WHERE type = 'SHOW_STARTING'"));
            Assert.Equal((long)subscribers, await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM notifications WHERE type = 'SHOW_STARTING'"));
            Assert.Equal((long)subscribers, await c.ExecuteScalarAsync<long>("SELECT delivered FROM show_notices WHERE session_id = @id AND type = 'SHOW_STARTING'", new { id }));
        }

        using var first = restarted.NewClient(await restarted.TokenAsync("buyer-000", "buyer"));
        Assert.Single(await ScheduledShowTests.NotificationsAsync(first, "SHOW_STARTING", id));
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
