using System.Net;
using System.Net.Http.Json;
using Microsoft.Extensions.DependencyInjection;
using Pasar.Server.Games;
using Pasar.Server.Platform.Redis;
using Pasar.Server.Tests.Infrastructure;
using StackExchange.Redis;

namespace Pasar.Server.Tests.Games;

public sealed class ShakeTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Task<HttpResponseMessage> ShakeAsync(HttpClient client, int power = 50) =>
        client.PostAsJsonAsync("/api/games/shake", new { shakePower = power }, Ct);

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Twenty_simultaneous_shakes_give_exactly_three_plays(Backend backend)
    {
        var clock = RegionTime.At(hour: 20); // 4 hours before the region's midnight
        await using var app = await PasarApp.StartAsync(backend, services: s => s.AddSingleton<TimeProvider>(clock));
        using var user = await app.ClientAsAsync("buyer-1", "buyer");

        using var start = new ManualResetEventSlim();
        var attempts = Enumerable.Range(0, 20).Select(_ => Task.Run(async () =>
        {
            start.Wait(Ct);
            return await ShakeAsync(user);
        }, Ct)).ToList();
        start.Set();
        var responses = await Task.WhenAll(attempts);

        var won = responses.Where(r => r.StatusCode == HttpStatusCode.OK).ToList();
        Assert.Equal(3, won.Count);
        var remaining = new List<int>();
        var coins = 0L;
        foreach (var r in won)
        {
            var body = await r.JsonAsync();
            remaining.Add(body.GetProperty("remainingPlays").GetInt32());
            coins += body.GetProperty("coinsWon").GetInt64();
        }

        Assert.Equal([0, 1, 2], remaining.Order());
        foreach (var refused in responses.Where(r => r.StatusCode != HttpStatusCode.OK))
        {
            await refused.AssertProblemAsync(HttpStatusCode.TooManyRequests, "DAILY_LIMIT");
            Assert.Equal(TimeSpan.FromHours(4), refused.Headers.RetryAfter?.Delta);
        }

        Assert.Equal(3L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM shake_plays WHERE user_id = 'buyer-1'"));
        Assert.Equal(coins, (await (await user.GetAsync("/api/me/coins", Ct)).JsonAsync()).GetProperty("balance").GetInt64());

        // Plays do not carry over, and a new region day brings three new ones.
        clock.Advance(TimeSpan.FromHours(4));
        Assert.Equal(2, (await (await ShakeAsync(user)).JsonAsync()).GetProperty("remainingPlays").GetInt32());
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Losing_the_hot_state_does_not_give_a_fourth_play(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        using var user = await app.ClientAsAsync("buyer-1", "buyer");
        for (var i = 0; i < 3; i++)
        {
            Assert.Equal(HttpStatusCode.OK, (await ShakeAsync(user)).StatusCode);
        }

        // Lose every key this server has in Redis/Garnet, as after a restart of a cache without persistence.
        var store = app.Services.GetRequiredService<HotStore>();
        var server = store.Connection.GetServers().First();
        var keys = new List<RedisKey>();
        await foreach (var key in server.KeysAsync(pattern: store.KeyPrefix + "*"))
        {
            keys.Add(key);
        }

        Assert.NotEmpty(keys);
        await store.Connection.GetDatabase().KeyDeleteAsync(keys.ToArray());

        await (await ShakeAsync(user)).AssertProblemAsync(HttpStatusCode.TooManyRequests, "DAILY_LIMIT");
        Assert.Equal(3L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM shake_plays WHERE user_id = 'buyer-1'"));
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Concurrent_plays_by_many_users_never_exceed_the_daily_budget(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend, s => s["Pasar:Games:Shake:DailyBudget"] = "700");
        var users = await Task.WhenAll(Enumerable.Range(0, 60).Select(i => app.ClientAsAsync($"buyer-{i}", "buyer")));
        var responses = await Task.WhenAll(users.SelectMany(u => Enumerable.Range(0, 3).Select(_ => ShakeAsync(u, 100))));

        // Every play counts, even the ones the exhausted budget paid 0.
        Assert.All(responses, r => Assert.Equal(HttpStatusCode.OK, r.StatusCode));
        Assert.Equal(180L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM shake_plays"));
        var paid = 0L;
        foreach (var r in responses)
        {
            paid += (await r.JsonAsync()).GetProperty("coinsWon").GetInt64();
        }

        // 180 plays at full power want far more than 700 (at least 180 × 10), so the budget is spent exactly.
        Assert.Equal(700L, paid);
        Assert.Equal(700L, await app.ScalarAsync<long>("SELECT SUM(coins) FROM shake_plays"));
        Assert.Equal(700L, await app.ScalarAsync<long>("SELECT SUM(amount) FROM coin_ledger WHERE source = 'SHAKE'"));
        foreach (var u in users)
        {
            u.Dispose();
        }
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(101)]
    public async Task Shake_power_outside_0_to_100_is_a_400_and_uses_no_play(int power)
    {
        await using var app = await PasarApp.StartAsync(Backend.Embedded);
        using var user = await app.ClientAsAsync("buyer-1", "buyer");
        await (await ShakeAsync(user, power)).AssertProblemAsync(HttpStatusCode.BadRequest, "VALIDATION_FAILED");
        await (await user.PostAsync("/api/games/shake", new StringContent("{\"shakePower\":\"hard\"}", System.Text.Encoding.UTF8, "application/json"), Ct))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "INVALID_BODY");
        Assert.Equal(0L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM shake_plays"));
        Assert.Equal(2, (await (await ShakeAsync(user)).JsonAsync()).GetProperty("remainingPlays").GetInt32());
    }

    [Fact]
    public async Task A_replaced_random_source_decides_the_band_and_power_places_the_amount()
    {
        var random = new ScriptedRandom(50, 150, 1_000, 9_999); // jackpot, 51–100, 11–50, 1–10
        await using var app = await PasarApp.StartAsync(Backend.Embedded, s => s["Pasar:Games:Shake:PlaysPerDay"] = "4",
            services: s => s.AddSingleton<IShakeRandom>(random));
        using var user = await app.ClientAsAsync("buyer-1", "buyer");
        var results = new List<(long Coins, bool Jackpot)>();
        foreach (var power in new[] { 0, 100, 50, 0 })
        {
            var body = await (await ShakeAsync(user, power)).JsonAsync();
            results.Add((body.GetProperty("coinsWon").GetInt64(), body.GetProperty("jackpot").GetBoolean()));
        }

        Assert.Equal([(500L, true), (100L, false), (31L, false), (1L, false)], results);
    }

    private sealed class ScriptedRandom(params int[] rolls) : IShakeRandom
    {
        private int _next;

        public int Next(int maxExclusive) => rolls[_next++ % rolls.Length];
    }
}

public sealed class ShakeRewardTableTests
{
    [Fact]
    public void Band_frequencies_over_100000_secure_draws_fit_70_25_4_1_percent()
    {
        var random = new CryptoShakeRandom();
        var counts = new double[4];
        const int draws = 100_000;
        for (var i = 0; i < draws; i++)
        {
            counts[(int)ShakeRewards.Draw(random, 50).Band]++;
        }

        double[] expected = [0.70 * draws, 0.25 * draws, 0.04 * draws, 0.01 * draws];
        var chiSquare = counts.Zip(expected, (o, e) => (o - e) * (o - e) / e).Sum();
        // 3 degrees of freedom; 16.27 is the 0.1 % critical value: a fair source fails this once in a thousand runs.
        Assert.True(chiSquare < 16.27, $"chi-square {chiSquare:F2} for counts {string.Join(", ", counts)}");
    }

    [Theory]
    [InlineData(nameof(ShakeBand.Small), 0, 1)]
    [InlineData(nameof(ShakeBand.Small), 100, 10)]
    [InlineData(nameof(ShakeBand.Small), 50, 6)]
    [InlineData(nameof(ShakeBand.Medium), 0, 11)]
    [InlineData(nameof(ShakeBand.Medium), 100, 50)]
    [InlineData(nameof(ShakeBand.Large), 0, 51)]
    [InlineData(nameof(ShakeBand.Large), 100, 100)]
    [InlineData(nameof(ShakeBand.Large), 33, 67)]
    [InlineData(nameof(ShakeBand.Jackpot), 0, 500)]
    [InlineData(nameof(ShakeBand.Jackpot), 100, 500)]
    public void Shake_power_places_the_amount_inside_its_band(string band, int power, long coins) =>
        Assert.Equal(coins, ShakeRewards.Amount(Enum.Parse<ShakeBand>(band), power));
}
