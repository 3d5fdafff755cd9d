using System.Collections.Concurrent;
using System.Net;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.Platform;

/// <summary>SPEC §17: rate limits per user and per address, answered 429 RATE_LIMITED with Retry-After; a flood hurts only itself.</summary>
public sealed class RateLimitTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The test app with every limit at its shipped default (the other tests turn them off).</summary>
    private static Task<PasarApp> StartWithDefaultLimitsAsync(Action<Dictionary<string, string?>>? configure = null) =>
        PasarApp.StartAsync(Backend.Embedded, s =>
        {
            s.Remove("Pasar:RateLimits:Enabled");
            configure?.Invoke(s);
        });

    /// <summary>Sends GETs from <paramref name="workers"/> parallel clients until one is refused; returns that refusal.</summary>
    private static async Task<HttpResponseMessage> FloodUntilRefusedAsync(PasarApp app, Action<HttpRequestMessage>? decorate = null, int workers = 8)
    {
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        var refused = new ConcurrentQueue<HttpResponseMessage>();
        var sent = 0;
        var tasks = Enumerable.Range(0, workers).Select(async _ =>
        {
            using var client = app.NewClient();
            while (!stop.IsCancellationRequested && Interlocked.Increment(ref sent) < 20_000)
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, "/api/products?limit=1");
                decorate?.Invoke(request);
                var response = await client.SendAsync(request, CancellationToken.None);
                if (response.StatusCode == HttpStatusCode.TooManyRequests)
                {
                    refused.Enqueue(response);
                    await stop.CancelAsync();
                }
                else
                {
                    Assert.Equal(HttpStatusCode.OK, response.StatusCode);
                    response.Dispose();
                }
            }
        }).ToList();
        await Task.WhenAll(tasks);
        Assert.True(refused.TryDequeue(out var first), $"no 429 after {sent} anonymous requests");
        return first;
    }

    [Fact]
    public async Task An_anonymous_flood_gets_429s_with_Retry_After_while_a_signed_in_user_keeps_answering()
    {
        await using var app = await StartWithDefaultLimitsAsync();
        using var buyer = await app.ClientAsAsync("buyer-1", "buyer"); // signed in before the flood

        using var flooding = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        long refusals = 0;
        var flood = Task.WhenAll(Enumerable.Range(0, 6).Select(async _ =>
        {
            using var client = app.NewClient();
            while (!flooding.IsCancellationRequested)
            {
                using var response = await client.GetAsync("/api/products?limit=1", CancellationToken.None);
                if (response.StatusCode == HttpStatusCode.TooManyRequests)
                {
                    Interlocked.Increment(ref refusals);
                }
            }
        }));

        await PasarApp.EventuallyAsync(() => Task.FromResult(Interlocked.Read(ref refusals) >= 20), TimeSpan.FromSeconds(30), "the flood being refused");

        // While the address is over its limit, the signed-in user, from the same address, is answered every time,
        // and so are the probes.
        for (var i = 0; i < 30; i++)
        {
            using var mine = await buyer.GetAsync("/api/products?limit=1", Ct);
            Assert.Equal(HttpStatusCode.OK, mine.StatusCode);
        }

        using var health = app.NewClient();
        Assert.Equal(HttpStatusCode.OK, (await health.GetAsync("/healthz", Ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await health.GetAsync("/readyz", Ct)).StatusCode);
        Assert.True(Interlocked.Read(ref refusals) >= 20);
        await flooding.CancelAsync();
        await flood;

        var refusal = await FloodUntilRefusedAsync(app);
        var problem = await refusal.AssertProblemAsync(HttpStatusCode.TooManyRequests, "RATE_LIMITED");
        Assert.True(refusal.Headers.RetryAfter?.Delta is { TotalSeconds: >= 1 }, "Retry-After in seconds");
        Assert.True(problem.GetProperty("retryAfterSeconds").GetInt32() >= 1);
        Assert.Equal("application/problem+json", refusal.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task A_signed_in_user_has_a_bucket_of_their_own_and_is_limited_too()
    {
        await using var app = await StartWithDefaultLimitsAsync(s => s["Pasar:RateLimits:UserPerSecond"] = "5");
        using var greedy = await app.ClientAsAsync("buyer-greedy", "buyer");
        using var other = await app.ClientAsAsync("buyer-other", "buyer");
        HttpStatusCode last = HttpStatusCode.OK;
        for (var i = 0; i < 1000 && last != HttpStatusCode.TooManyRequests; i++)
        {
            using var response = await greedy.GetAsync("/api/me/orders", Ct);
            last = response.StatusCode;
        }

        Assert.Equal(HttpStatusCode.TooManyRequests, last);
        using var answer = await other.GetAsync("/api/me/orders", Ct);
        Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
    }

    [Fact]
    public async Task Behind_a_trusted_proxy_each_forwarded_client_address_has_its_own_bucket()
    {
        await using var app = await StartWithDefaultLimitsAsync(s => s["Pasar:Http:ForwardedHeaders"] = "true");
        var refusal = await FloodUntilRefusedAsync(app, r => r.Headers.Add("X-Forwarded-For", "203.0.113.7"));
        await refusal.AssertProblemAsync(HttpStatusCode.TooManyRequests, "RATE_LIMITED");

        // Another client behind the same proxy: a fresh bucket of twice the rate, so the next requests all answer.
        using var client = app.NewClient();
        for (var i = 0; i < 10; i++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, "/api/products?limit=1");
            request.Headers.Add("X-Forwarded-For", "203.0.113.8");
            using var response = await client.SendAsync(request, Ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Theory]
    [InlineData("Pasar:RateLimits:AnonymousPerSecond", "0")]
    [InlineData("Pasar:RateLimits:HubCallsPerSecond", "-1")]
    [InlineData("Pasar:Http:TrustedProxies", "10.0.0.0/99")]
    [InlineData("Pasar:Http:PublicBaseUrl", "shop.example/path")]
    [InlineData("Pasar:Social:ClicksPerAddressPerHour", "0")]
    public async Task A_bad_limit_or_proxy_setting_fails_the_start_with_its_name(string key, string value)
    {
        var ex = await Assert.ThrowsAsync<Microsoft.Extensions.Options.OptionsValidationException>(() => PasarApp.StartAsync(Backend.Embedded, s => s[key] = value));
        Assert.Contains(key, ex.Message, StringComparison.Ordinal);
    }
}
