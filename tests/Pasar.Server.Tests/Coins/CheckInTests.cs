using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.Coins;

public sealed class CheckInTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_hundred_simultaneous_check_ins_give_exactly_one_award(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        using var user = await app.ClientAsAsync("buyer-1", "buyer");
        using var start = new ManualResetEventSlim();
        var attempts = Enumerable.Range(0, 100).Select(_ => Task.Run(async () =>
        {
            start.Wait(Ct);
            return await user.PostAsync("/api/me/check-ins", null, Ct);
        }, Ct)).ToList();
        start.Set();
        var responses = await Task.WhenAll(attempts);

        Assert.Equal(1, responses.Count(r => r.StatusCode == HttpStatusCode.Created));
        foreach (var refused in responses.Where(r => r.StatusCode != HttpStatusCode.Created))
        {
            await refused.AssertProblemAsync(HttpStatusCode.Conflict, "ALREADY_CHECKED_IN");
        }

        Assert.Equal(1L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM coin_ledger WHERE user_id = 'buyer-1'"));
        Assert.Equal(1L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM check_ins WHERE user_id = 'buyer-1'"));
        Assert.Equal(10, (await (await user.GetAsync("/api/me/coins", Ct)).JsonAsync()).GetProperty("balance").GetInt64());
    }

    [Fact]
    public async Task Thirty_one_region_days_follow_the_cycle_and_a_missed_day_restarts_it()
    {
        var clock = RegionTime.At(hour: 9);
        await using var app = await PasarApp.StartAsync(Backend.Embedded, services: s => s.AddSingleton<TimeProvider>(clock));
        using var user = await app.ClientAsAsync("buyer-1", "buyer");

        var expected = new long[31];
        for (var day = 1; day <= 30; day++)
        {
            expected[day - 1] = day switch { 7 => 100, 14 => 250, 30 => 1000, _ => day * 10 };
        }

        expected[30] = 10; // day 31: the cycle starts again
        var total = 0L;
        for (var day = 1; day <= 31; day++)
        {
            var status = await (await user.GetAsync("/api/me/check-ins", Ct)).JsonAsync();
            Assert.False(status.GetProperty("checkedInToday").GetBoolean());
            Assert.Equal(expected[day - 1], status.GetProperty("nextReward").GetInt64());

            var result = await (await user.PostAsync("/api/me/check-ins", null, Ct)).JsonAsync();
            Assert.Equal(day, result.GetProperty("streakDay").GetInt32());
            Assert.Equal(expected[day - 1], result.GetProperty("coins").GetInt64());
            Assert.Equal(day is 7 or 14 or 30, result.GetProperty("bonus").GetBoolean());
            total += expected[day - 1];
            clock.Advance(TimeSpan.FromDays(1));
        }

        Assert.Equal(total, (await (await user.GetAsync("/api/me/coins", Ct)).JsonAsync()).GetProperty("balance").GetInt64());
        var state = await (await user.GetAsync("/api/me/check-ins", Ct)).JsonAsync();
        Assert.Equal(31, state.GetProperty("streakDay").GetInt32());
        Assert.Equal(30, state.GetProperty("recent").GetArrayLength());

        clock.Advance(TimeSpan.FromDays(1)); // a missed day
        Assert.Equal(0, (await (await user.GetAsync("/api/me/check-ins", Ct)).JsonAsync()).GetProperty("streakDay").GetInt32());
        var restarted = await (await user.PostAsync("/api/me/check-ins", null, Ct)).JsonAsync();
        Assert.Equal(1, restarted.GetProperty("streakDay").GetInt32());
        Assert.Equal(10, restarted.GetProperty("coins").GetInt64());
    }

    [Fact]
    public async Task The_day_turns_at_region_midnight_not_at_UTC_midnight()
    {
        var clock = RegionTime.At(hour: 23, minute: 30); // 15:30 UTC
        await using var app = await PasarApp.StartAsync(Backend.Embedded, services: s => s.AddSingleton<TimeProvider>(clock));
        using var user = await app.ClientAsAsync("buyer-1", "buyer");

        var first = await (await user.PostAsync("/api/me/check-ins", null, Ct)).JsonAsync();
        clock.Advance(TimeSpan.FromMinutes(60)); // 00:30 in Singapore, still the same UTC day
        var second = await user.PostAsync("/api/me/check-ins", null, Ct);
        Assert.Equal(HttpStatusCode.Created, second.StatusCode);
        var body = await second.JsonAsync();
        Assert.Equal(2, body.GetProperty("streakDay").GetInt32());
        Assert.Equal(DateOnly.Parse(first.GetProperty("date").GetString()!).AddDays(1), DateOnly.Parse(body.GetProperty("date").GetString()!));

        clock.Advance(TimeSpan.FromHours(20)); // 20:30 in Singapore: the next UTC day, the same region day
        await (await user.PostAsync("/api/me/check-ins", null, Ct)).AssertProblemAsync(HttpStatusCode.Conflict, "ALREADY_CHECKED_IN");
    }

    [Fact]
    public async Task A_check_in_award_reaches_the_inbox_as_coins_earned()
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        using var user = await app.ClientAsAsync("buyer-1", "buyer");
        using var other = await app.ClientAsAsync("buyer-2", "buyer");
        await user.PostAsync("/api/me/check-ins", null, Ct);

        System.Text.Json.JsonElement inbox = default;
        await PasarApp.EventuallyAsync(async () =>
        {
            inbox = await (await user.GetAsync("/api/me/notifications", Ct)).JsonAsync();
            return inbox.GetProperty("items").GetArrayLength() == 1;
        }, TimeSpan.FromSeconds(10), "the COINS_EARNED notification");
        var note = inbox.GetProperty("items")[0];
        Assert.Equal("COINS_EARNED", note.GetProperty("type").GetString());
        Assert.Equal(10, note.GetProperty("data").GetProperty("amount").GetInt64());
        Assert.Equal(1, inbox.GetProperty("unread").GetInt64());

        var id = note.GetProperty("id").GetString();
        await (await other.PostAsync($"/api/me/notifications/{id}/read", null, Ct)).AssertProblemAsync(HttpStatusCode.NotFound, "NOTIFICATION_NOT_FOUND");
        Assert.Equal(HttpStatusCode.NoContent, (await user.PostAsync($"/api/me/notifications/{id}/read", null, Ct)).StatusCode);
        Assert.Equal(0, (await (await user.GetAsync("/api/me/notifications", Ct)).JsonAsync()).GetProperty("unread").GetInt64());
    }
}
