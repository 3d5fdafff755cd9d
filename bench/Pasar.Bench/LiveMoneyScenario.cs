using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;

namespace Pasar.Bench;

/// <summary>
/// Vouchers and auctions under a burst (issue 18), through HTTP.
/// <para>voucher: a voucher of Q claims, limit 1, and 3,000 buyers tapping Claim as fast as the server answers.
/// Afterwards the scenario checks in SQL that the claims equal the 201s, come from distinct buyers and never
/// exceed Q.</para>
/// <para>auction: one hot auction and 300 bidders, each bidding the lowest amount it was last told would be
/// accepted (the 409's <c>minimumBidMinor</c>), so nearly every attempt collides with others on the same amount.
/// Afterwards it checks that the accepted bids are strictly increasing by the increment and equal the 201s.</para>
/// </summary>
public static class LiveMoneyScenario
{
    private sealed record Show(HttpClient Http, JwtMinter Minter, string SessionId, string ProductId, Func<string, object, Task<JsonElement>> Post);

    private static async Task<Show> OnAirAsync(BenchTarget target, int concurrency)
    {
        var minter = new JwtMinter(BenchTarget.SigningKey);
        var http = DailyScenarios.Client(target, concurrency);
        var sellerToken = minter.Mint("money-seller", "seller");

        async Task<JsonElement> PostAsync(string path, object body)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
            request.Headers.Authorization = new("Bearer", sellerToken);
            request.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString("N"));
            using var response = await http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            return response.IsSuccessStatusCode ? JsonDocument.Parse(text).RootElement.Clone() : throw new InvalidOperationException($"{path}: {text}");
        }

        var product = await PostAsync("/api/products", new { title = "Live product", priceMinor = 10_000, currency = "SGD", stock = 1_000 });
        var session = await PostAsync("/api/live/sessions", new { title = "Money bench" });
        var sessionId = session.GetProperty("id").GetString()!;
        await using (var c = await target.OpenDatabaseAsync())
        {
            // Stands in for the first RTMP media arriving: the session is on air.
            await c.ExecuteAsync("UPDATE live_sessions SET status = 'live', started_at = 0 WHERE id = @sessionId", new { sessionId });
        }

        return new Show(http, minter, sessionId, product.GetProperty("id").GetString()!, PostAsync);
    }

    private static LoadRunner.Outcome Classify(HttpStatusCode status) => status switch
    {
        HttpStatusCode.Created => LoadRunner.Outcome.Ok,
        HttpStatusCode.Conflict => LoadRunner.Outcome.Refused,
        _ => LoadRunner.Outcome.Failed,
    };

    public static async Task<LoadResult> VouchersAsync(BenchTarget target, int concurrency, TimeSpan duration, int quantity)
    {
        var show = await OnAirAsync(target, concurrency);
        using var http = show.Http;
        var buyers = Enumerable.Range(0, 3000).Select(i => show.Minter.Mint($"crowd-{i}", "buyer")).ToArray();
        string voucherId = "";

        async Task<LoadRunner.Outcome> Tap(int worker, long n)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/vouchers/{voucherId}/claims");
            request.Headers.Authorization = new("Bearer", buyers[(int)((worker * 7919 + n) % buyers.Length)]);
            request.Headers.Add("Idempotency-Key", $"{voucherId}-{worker}-{n}");
            using var response = await http.SendAsync(request);
            return Classify(response.StatusCode);
        }

        // Warm up on a first voucher, then measure on a fresh one.
        voucherId = (await show.Post($"/api/live/sessions/{show.SessionId}/vouchers",
            new { discountMinor = 100, currency = "SGD", quantity = 100, perUserLimit = 1, durationSeconds = 3600 })).GetProperty("id").GetString()!;
        await LoadRunner.RunAsync(concurrency, TimeSpan.FromSeconds(2), Tap);
        voucherId = (await show.Post($"/api/live/sessions/{show.SessionId}/vouchers",
            new { discountMinor = 100, currency = "SGD", quantity, perUserLimit = 1, durationSeconds = 3600 })).GetProperty("id").GetString()!;
        var result = await DailyScenarios.MeasureAsync($"voucher claim burst, {quantity} claims", target, concurrency, duration, Tap, warmUp: false);

        await using var c = await target.OpenDatabaseAsync();
        var claims = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM voucher_claims WHERE voucher_id = @voucherId", new { voucherId });
        var distinct = await c.ExecuteScalarAsync<long>("SELECT COUNT(DISTINCT user_id) FROM voucher_claims WHERE voucher_id = @voucherId", new { voucherId });
        Console.WriteLine($"check on {target.Name}: {claims} claims from {distinct} buyers for {quantity} (ok: {result.Ok})");
        if (claims > quantity || distinct != claims || claims != result.Ok)
        {
            throw new InvalidOperationException($"Over-claimed or lost claims: {claims} claims, {distinct} buyers.");
        }

        return result;
    }

    public static async Task<LoadResult> BidsAsync(BenchTarget target, int concurrency, TimeSpan duration)
    {
        var show = await OnAirAsync(target, concurrency);
        using var http = show.Http;
        var bidders = Enumerable.Range(0, 300).Select(i => show.Minter.Mint($"bidder-{i}", "buyer")).ToArray();
        string auctionId = "";
        long known = 100; // the lowest amount the server last said it would accept
        const long increment = 10;

        async Task<LoadRunner.Outcome> Bid(int worker, long n)
        {
            var amount = Interlocked.Read(ref known);
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/auctions/{auctionId}/bids") { Content = JsonContent.Create(new { amountMinor = amount }) };
            request.Headers.Authorization = new("Bearer", bidders[(int)((worker * 7919 + n) % bidders.Length)]);
            request.Headers.Add("Idempotency-Key", $"{auctionId}-{worker}-{n}");
            using var response = await http.SendAsync(request);
            if (response.StatusCode == HttpStatusCode.Created)
            {
                Raise(amount + increment);
            }
            else if (response.StatusCode == HttpStatusCode.Conflict)
            {
                var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
                if (problem.TryGetProperty("minimumBidMinor", out var minimum))
                {
                    Raise(minimum.GetInt64());
                }
            }

            return Classify(response.StatusCode);
        }

        void Raise(long to)
        {
            for (var seen = Interlocked.Read(ref known); to > seen; seen = Interlocked.Read(ref known))
            {
                if (Interlocked.CompareExchange(ref known, to, seen) == seen)
                {
                    return;
                }
            }
        }

        async Task<string> StartAsync() => (await show.Post($"/api/live/sessions/{show.SessionId}/auctions",
            new { productId = show.ProductId, startPriceMinor = 100, incrementMinor = increment, durationSeconds = 3600, antiSnipeSeconds = 0 })).GetProperty("id").GetString()!;

        // Warm up on a first auction, close it, then measure on a fresh one.
        auctionId = await StartAsync();
        await LoadRunner.RunAsync(concurrency, TimeSpan.FromSeconds(2), Bid);
        await using (var c = await target.OpenDatabaseAsync())
        {
            await c.ExecuteAsync("UPDATE auctions SET ends_at = 0 WHERE id = @auctionId", new { auctionId });
        }

        await Task.Delay(1500); // the ticker closes the warm-up auction
        Interlocked.Exchange(ref known, 100);
        auctionId = await StartAsync();
        var result = await DailyScenarios.MeasureAsync("bids on one hot auction, 300 bidders", target, concurrency, duration, Bid, warmUp: false);

        await using (var c = await target.OpenDatabaseAsync())
        {
            var amounts = (await c.QueryAsync<long>("SELECT amount_minor FROM auction_bids WHERE auction_id = @auctionId ORDER BY placed_at, amount_minor", new { auctionId })).AsList();
            var increasing = amounts.Zip(amounts.Skip(1)).All(p => p.Second >= p.First + increment);
            Console.WriteLine($"check on {target.Name}: {amounts.Count} accepted bids, strictly increasing by the increment: {increasing} (ok: {result.Ok})");
            if (!increasing || amounts.Count != result.Ok)
            {
                throw new InvalidOperationException("The accepted bids are not totally ordered.");
            }
        }

        return result;
    }
}
