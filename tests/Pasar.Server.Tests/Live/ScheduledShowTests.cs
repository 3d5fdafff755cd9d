using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Pasar.Server.Live;
using Pasar.Server.Tests.Infrastructure;
using Pasar.Testing;

namespace Pasar.Server.Tests.Live;

/// <summary>
/// Scheduled shows and "notify me" (SPEC §14, ADR 0015), with lead and expiry times of seconds: one reminder and one
/// go-live per subscriber, whoever else tells them, whatever moves the show, across restarts.
/// </summary>
public sealed class ScheduledShowTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A 3 s reminder lead: a show scheduled 5 s ahead is reminded of 2 s from now.</summary>
    internal static void ShortTimes(Dictionary<string, string?> s)
    {
        s["Pasar:Live:ReminderLeadMinutes"] = "0.05";
        s["Pasar:Live:ReminderBatchSize"] = "7"; // several batches even for a handful of subscribers
    }

    internal static async Task<JsonElement> ScheduleAsync(HttpClient seller, TimeSpan inFuture, string title = "Sunday show")
    {
        var response = await seller.PostAsJsonAsync("/api/live/sessions", new { title, scheduledAt = DateTimeOffset.UtcNow + inFuture }, Ct);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var body = await response.JsonAsync();
        Assert.Equal("scheduled", body.GetProperty("status").GetString());
        return body;
    }

    internal static async Task<IReadOnlyList<JsonElement>> NotificationsAsync(HttpClient user, string type, string sessionId)
    {
        var page = await (await user.GetAsync("/api/me/notifications?limit=100", Ct)).JsonAsync();
        return [.. page.GetProperty("items").EnumerateArray()
            .Where(n => n.GetProperty("type").GetString() == type && n.GetProperty("data").GetProperty("sessionId").GetString() == sessionId)];
    }

    internal static Task WaitForAsync(HttpClient user, string type, string sessionId, int count = 1, double seconds = 20) =>
        PasarApp.EventuallyAsync(async () => (await NotificationsAsync(user, type, sessionId)).Count >= count, TimeSpan.FromSeconds(seconds), $"{type} for {sessionId}");

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_subscriber_who_also_follows_gets_one_SELLER_LIVE_in_the_inbox_and_one_push(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend, ShortTimes);
        using var seller = await app.ClientAsAsync("seller-1", "seller", "Mei");
        var show = await ScheduleAsync(seller, TimeSpan.FromMinutes(30));
        var id = show.GetProperty("id").GetString()!;
        using var both = await app.ClientAsAsync("both-1", "buyer");
        using var subscriberOnly = await app.ClientAsAsync("sub-1", "buyer");
        using var followerOnly = await app.ClientAsAsync("fol-1", "buyer");
        foreach (var c in new[] { both, subscriberOnly })
        {
            Assert.Equal(HttpStatusCode.NoContent, (await c.PutAsync($"/api/live/sessions/{id}/reminders", null, Ct)).StatusCode);
        }

        foreach (var c in new[] { both, followerOnly })
        {
            Assert.True((await c.PutAsync("/api/me/following/seller-1", null, Ct)).IsSuccessStatusCode);
        }

        await using var hub = await RoomClient.ConnectAsync(app, await app.TokenAsync("both-1", "buyer"));
        Assert.True(await app.Services.GetRequiredService<LiveSessionStore>().MarkLiveAsync(id, Ct)); // first media arrived early
        foreach (var c in new[] { both, subscriberOnly, followerOnly })
        {
            await WaitForAsync(c, "SELLER_LIVE", id);
        }

        var pushed = await hub.WaitForAsync("notification", n => n.GetProperty("type").GetString() == "SELLER_LIVE");
        Assert.Equal("Mei is live", pushed.GetProperty("title").GetString());
        await Task.Delay(2500, Ct); // both fan-outs (followers, subscribers) have run by now
        Assert.Single(await NotificationsAsync(both, "SELLER_LIVE", id));
        Assert.Single(await NotificationsAsync(subscriberOnly, "SELLER_LIVE", id));
        Assert.Single(await NotificationsAsync(followerOnly, "SELLER_LIVE", id));
        Assert.False(hub.TryNext("notification", out var again) && again.GetProperty("type").GetString() == "SELLER_LIVE");
        // Live early: the reminder for the planned time is withdrawn, and the show is live, not upcoming.
        Assert.Empty(await NotificationsAsync(both, "SHOW_STARTING", id));
        Assert.Equal("live", (await seller.SessionAsync(id)).GetProperty("status").GetString());
        await (await both.PutAsync($"/api/live/sessions/{id}/reminders", null, Ct)).AssertProblemAsync(HttpStatusCode.Conflict, "SESSION_NOT_SCHEDULED");
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Rescheduling_moves_the_reminder_and_tells_subscribers(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend, ShortTimes);
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        var id = (await ScheduleAsync(seller, TimeSpan.FromSeconds(6))).GetProperty("id").GetString()!;
        using var buyer = await app.ClientAsAsync("buyer-1", "buyer");
        Assert.Equal(HttpStatusCode.NoContent, (await buyer.PutAsync($"/api/live/sessions/{id}/reminders", null, Ct)).StatusCode);
        var state = await (await buyer.GetAsync($"/api/live/sessions/{id}/reminders", Ct)).JsonAsync();
        Assert.True(state.GetProperty("subscribed").GetBoolean());
        Assert.Equal(1, state.GetProperty("subscribers").GetInt64());

        // Moved 8 s later before its reminder (due in 3 s) went out: the reminder moves to 11 s from now.
        var moved = DateTimeOffset.UtcNow.AddSeconds(14);
        var patch = await seller.PatchAsJsonAsync($"/api/live/sessions/{id}", new { scheduledAt = moved }, Ct);
        Assert.Equal(HttpStatusCode.OK, patch.StatusCode);
        Assert.Equal(moved.ToUnixTimeMilliseconds(), (await patch.JsonAsync()).GetProperty("scheduledAt").GetDateTimeOffset().ToUnixTimeMilliseconds());
        await WaitForAsync(buyer, "SHOW_RESCHEDULED", id);
        await Task.Delay(6000, Ct); // past the old reminder time
        Assert.Empty(await NotificationsAsync(buyer, "SHOW_STARTING", id));
        await WaitForAsync(buyer, "SHOW_STARTING", id);
        var reminder = Assert.Single(await NotificationsAsync(buyer, "SHOW_STARTING", id));
        Assert.Equal(moved.ToUnixTimeMilliseconds(), reminder.GetProperty("data").GetProperty("scheduledAt").GetDateTimeOffset().ToUnixTimeMilliseconds());

        // Moved a little once the reminder was out (its "soon" still holds): not reminded again, only told.
        Assert.Equal(HttpStatusCode.OK, (await seller.PatchAsJsonAsync($"/api/live/sessions/{id}", new { scheduledAt = moved.AddSeconds(2) }, Ct)).StatusCode);
        await WaitForAsync(buyer, "SHOW_RESCHEDULED", id, count: 2);
        await Task.Delay(2000, Ct);
        Assert.Single(await NotificationsAsync(buyer, "SHOW_STARTING", id));
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Cancelling_tells_subscribers_and_stops_the_reminder_and_the_key(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend, ShortTimes);
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        var show = await ScheduleAsync(seller, TimeSpan.FromSeconds(5));
        var id = show.GetProperty("id").GetString()!;
        using var buyer = await app.ClientAsAsync("buyer-1", "buyer");
        using var other = await app.ClientAsAsync("seller-2", "seller");
        Assert.Equal(HttpStatusCode.NoContent, (await buyer.PutAsync($"/api/live/sessions/{id}/reminders", null, Ct)).StatusCode);
        await (await other.DeleteAsync($"/api/live/sessions/{id}", Ct)).AssertProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        Assert.Equal(HttpStatusCode.NoContent, (await seller.DeleteAsync($"/api/live/sessions/{id}", Ct)).StatusCode);
        Assert.Equal("cancelled", (await seller.SessionAsync(id)).GetProperty("status").GetString());
        await WaitForAsync(buyer, "SHOW_CANCELLED", id);
        await Task.Delay(5000, Ct); // past the reminder time and the start
        Assert.Empty(await NotificationsAsync(buyer, "SHOW_STARTING", id));
        Assert.Single(await NotificationsAsync(buyer, "SHOW_CANCELLED", id));
        await (await seller.DeleteAsync($"/api/live/sessions/{id}", Ct)).AssertProblemAsync(HttpStatusCode.Conflict, "SESSION_NOT_SCHEDULED");
        await (await seller.PatchAsJsonAsync($"/api/live/sessions/{id}", new { scheduledAt = DateTimeOffset.UtcNow.AddHours(1) }, Ct))
            .AssertProblemAsync(HttpStatusCode.Conflict, "SESSION_NOT_SCHEDULED");
        await (await buyer.PutAsync($"/api/live/sessions/{id}/reminders", null, Ct)).AssertProblemAsync(HttpStatusCode.Conflict, "SESSION_NOT_SCHEDULED");
        // A cancelled show cannot go live, and is no longer upcoming.
        Assert.False(await app.Services.GetRequiredService<LiveSessionStore>().MarkLiveAsync(id, Ct));
        var upcoming = await (await app.Client.GetAsync("/api/live/sessions?status=scheduled", Ct)).JsonAsync();
        Assert.DoesNotContain(upcoming.GetProperty("items").EnumerateArray(), s => s.GetProperty("id").GetString() == id);
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_show_that_never_starts_is_cancelled_after_the_expiry(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend, s =>
        {
            ShortTimes(s);
            s["Pasar:Live:ScheduledExpiryHours"] = "0.0005"; // 1.8 s
        });
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        var id = (await ScheduleAsync(seller, TimeSpan.FromSeconds(4))).GetProperty("id").GetString()!;
        using var buyer = await app.ClientAsAsync("buyer-1", "buyer");
        Assert.Equal(HttpStatusCode.NoContent, (await buyer.PutAsync($"/api/live/sessions/{id}/reminders", null, Ct)).StatusCode);
        await WaitForAsync(buyer, "SHOW_STARTING", id);
        Assert.Equal("scheduled", (await seller.SessionAsync(id)).GetProperty("status").GetString());
        await WaitForAsync(buyer, "SHOW_CANCELLED", id);
        var cancelled = Assert.Single(await NotificationsAsync(buyer, "SHOW_CANCELLED", id));
        Assert.Equal("expired", cancelled.GetProperty("data").GetProperty("reason").GetString());
        Assert.Equal("cancelled", (await seller.SessionAsync(id)).GetProperty("status").GetString());
        Assert.Equal("expired", await app.ScalarAsync<string>("SELECT end_reason FROM live_sessions WHERE id = @id", new { id }));
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Bad_requests_are_refused_with_codes_and_change_nothing_and_upcoming_shows_list_soonest_first(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend, ShortTimes);
        using var seller = await app.ClientAsAsync("seller-1", "seller");
        using var other = await app.ClientAsAsync("seller-2", "seller");
        using var buyer = await app.ClientAsAsync("buyer-1", "buyer");
        var late = await ScheduleAsync(seller, TimeSpan.FromDays(3), "Later");
        var soon = await ScheduleAsync(other, TimeSpan.FromDays(1), "Sooner");
        var id = late.GetProperty("id").GetString()!;
        var at = late.GetProperty("scheduledAt").GetDateTimeOffset();
        var (plainId, _) = await seller.CreateSessionAsync("Not scheduled");
        Assert.Equal("created", (await seller.SessionAsync(plainId)).GetProperty("status").GetString());
        long Count(string table) => app.ScalarAsync<long>($"SELECT COUNT(*) FROM {table}").GetAwaiter().GetResult();
        var before = (Sessions: Count("live_sessions"), Notices: Count("show_notices"));

        foreach (var scheduledAt in new object?[] { DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddDays(91), "next tuesday" })
        {
            var create = await seller.PostAsJsonAsync("/api/live/sessions", new { title = "Bad", scheduledAt }, Ct);
            Assert.Equal(HttpStatusCode.BadRequest, create.StatusCode);
            var patch = await seller.PatchAsJsonAsync($"/api/live/sessions/{id}", new { scheduledAt }, Ct);
            Assert.Equal(HttpStatusCode.BadRequest, patch.StatusCode);
        }

        var past = await seller.PostAsJsonAsync("/api/live/sessions", new { title = "Bad", scheduledAt = DateTimeOffset.UtcNow.AddMinutes(-1) }, Ct);
        Assert.Contains("scheduledAt", (await past.AssertProblemAsync(HttpStatusCode.BadRequest, "VALIDATION_FAILED")).GetProperty("errors").EnumerateObject().Select(p => p.Name));
        await (await seller.PatchAsJsonAsync($"/api/live/sessions/{id}", new { }, Ct)).AssertProblemAsync(HttpStatusCode.BadRequest, "VALIDATION_FAILED");
        var future = new { scheduledAt = DateTimeOffset.UtcNow.AddDays(2) };
        await (await other.PatchAsJsonAsync($"/api/live/sessions/{id}", future, Ct)).AssertProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        await (await buyer.DeleteAsync($"/api/live/sessions/{id}", Ct)).AssertProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        await (await seller.PatchAsJsonAsync("/api/live/sessions/nope", future, Ct)).AssertProblemAsync(HttpStatusCode.NotFound, "SESSION_NOT_FOUND");
        await (await seller.DeleteAsync("/api/live/sessions/nope", Ct)).AssertProblemAsync(HttpStatusCode.NotFound, "SESSION_NOT_FOUND");
        await (await buyer.PutAsync("/api/live/sessions/nope/reminders", null, Ct)).AssertProblemAsync(HttpStatusCode.NotFound, "SESSION_NOT_FOUND");
        await (await seller.PatchAsJsonAsync($"/api/live/sessions/{plainId}", future, Ct)).AssertProblemAsync(HttpStatusCode.Conflict, "SESSION_NOT_SCHEDULED");
        await (await seller.DeleteAsync($"/api/live/sessions/{plainId}", Ct)).AssertProblemAsync(HttpStatusCode.Conflict, "SESSION_NOT_SCHEDULED");
        await (await buyer.PutAsync($"/api/live/sessions/{plainId}/reminders", null, Ct)).AssertProblemAsync(HttpStatusCode.Conflict, "SESSION_NOT_SCHEDULED");
        await (await app.Client.PutAsync($"/api/live/sessions/{id}/reminders", null, Ct)).AssertProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");

        Assert.Equal(before, (Count("live_sessions"), Count("show_notices")));
        Assert.Equal(0L, Count("show_reminders"));
        var read = await seller.SessionAsync(id);
        Assert.Equal("scheduled", read.GetProperty("status").GetString());
        Assert.Equal(at, read.GetProperty("scheduledAt").GetDateTimeOffset());

        // Upcoming: soonest first, scheduled ones only, by seller too, paged.
        var upcoming = await (await app.Client.GetAsync("/api/live/sessions?status=scheduled", Ct)).JsonAsync();
        Assert.Equal([soon.GetProperty("id").GetString(), id], upcoming.GetProperty("items").EnumerateArray().Select(s => s.GetProperty("id").GetString()));
        var first = await (await app.Client.GetAsync("/api/live/sessions?status=scheduled&limit=1", Ct)).JsonAsync();
        var cursor = first.GetProperty("nextCursor").GetString()!;
        var second = await (await app.Client.GetAsync($"/api/live/sessions?status=scheduled&limit=1&cursor={cursor}", Ct)).JsonAsync();
        Assert.Equal(id, Assert.Single(second.GetProperty("items").EnumerateArray()).GetProperty("id").GetString());
        var mine = await (await app.Client.GetAsync("/api/live/sessions?status=scheduled&sellerId=seller-1", Ct)).JsonAsync();
        Assert.Equal(id, Assert.Single(mine.GetProperty("items").EnumerateArray()).GetProperty("id").GetString());
    }

    [Fact]
    public async Task The_routes_are_in_OpenAPI()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        var paths = JsonDocument.Parse(await app.Client.GetStringAsync("/openapi/v1.json", Ct)).RootElement.GetProperty("paths");
        Assert.True(paths.GetProperty("/api/live/sessions/{id}").TryGetProperty("patch", out _));
        Assert.True(paths.GetProperty("/api/live/sessions/{id}").TryGetProperty("delete", out _));
        Assert.True(paths.GetProperty("/api/live/sessions/{id}/reminders").TryGetProperty("put", out _));
        Assert.True(paths.GetProperty("/api/live/sessions/{id}/reminders").TryGetProperty("delete", out _));
        Assert.Contains("scheduled", paths.GetProperty("/api/live/sessions").GetProperty("get").GetProperty("summary").GetString(), StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Invalid_lead_or_expiry_stops_the_start_with_the_setting_named(Backend backend)
    {
        foreach (var (key, value) in new[] { ("Pasar:Live:ReminderLeadMinutes", "-1"), ("Pasar:Live:ScheduledExpiryHours", "0") })
        {
            var ex = await Assert.ThrowsAnyAsync<Exception>(() => PasarApp.StartAsync(backend, s => s[key] = value));
            Assert.Contains(key, ex.Message, StringComparison.Ordinal);
        }
    }
}
