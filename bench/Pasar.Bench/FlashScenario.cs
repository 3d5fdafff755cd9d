using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Dapper;

namespace Pasar.Bench;

/// <summary>
/// The flash-sale burst: 100 units, limit 1, and a crowd of 3,000 buyers tapping Buy as fast as the server
/// answers. Every attempt is counted: the 100 that buy (ok), the refusals (SOLD_OUT / LIMIT_REACHED), and
/// anything else (failed). Each generator (the .NET closed loop, <c>wrk</c> with <c>bench/wrk/flash-buy.lua</c>)
/// gets a fresh sale in the same server; after each run the scenario checks in SQL that the orders equal the
/// 201s, come from distinct buyers and never exceed the quantity.
/// </summary>
public static class FlashScenario
{
    public static async Task<IReadOnlyList<LoadResult>> RunAsync(BenchTarget target, int concurrency, TimeSpan duration, int quantity, IReadOnlyList<string> generators)
    {
        var minter = new JwtMinter(BenchTarget.SigningKey);
        using var http = DailyScenarios.Client(target, concurrency);
        var sellerToken = minter.Mint("flash-seller", "seller");

        async Task<JsonElement> PostAsync(string path, object body)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
            request.Headers.Authorization = new("Bearer", sellerToken);
            using var response = await http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            return response.IsSuccessStatusCode ? JsonDocument.Parse(text).RootElement.Clone() : throw new InvalidOperationException($"{path}: {text}");
        }

        var product = await PostAsync("/api/products", new { title = "Flash product", priceMinor = 10_000, currency = "SGD", stock = (quantity + 100) * (generators.Count + 1) + 1_000 }); // every generator's sale carves its quantity
        var session = await PostAsync("/api/live/sessions", new { title = "Flash bench" });
        var sessionId = session.GetProperty("id").GetString();
        await using (var c = await target.OpenDatabaseAsync())
        {
            // Stands in for the first RTMP media arriving: the session is on air.
            await c.ExecuteAsync("UPDATE live_sessions SET status = 'live', started_at = 0 WHERE id = @sessionId", new { sessionId });
        }

        var buyers = Enumerable.Range(0, 3000).Select(i => minter.Mint($"crowd-{i}", "buyer")).ToArray();
        var body = Encoding.UTF8.GetBytes("""{"quantity":1}""");
        string saleId = "";
        var reported = 0;

        async Task<LoadRunner.Outcome> Tap(int worker, long n)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/flash-sales/{saleId}/purchases") { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new("application/json");
            request.Headers.Authorization = new("Bearer", buyers[(int)((worker * 7919 + n) % buyers.Length)]);
            request.Headers.Add("Idempotency-Key", $"{saleId}-{worker}-{n}");
            using var response = await http.SendAsync(request);
            if (response.StatusCode is not (HttpStatusCode.Created or HttpStatusCode.Conflict) && Interlocked.Increment(ref reported) <= 3)
            {
                Console.Error.WriteLine($"unexpected {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            }

            return response.StatusCode switch
            {
                HttpStatusCode.Created => LoadRunner.Outcome.Ok,
                HttpStatusCode.Conflict => LoadRunner.Outcome.Refused,
                _ => LoadRunner.Outcome.Failed,
            };
        }

        async Task EndSaleAsync()
        {
            await using (var c = await target.OpenDatabaseAsync())
            {
                await c.ExecuteAsync("UPDATE flash_sales SET ends_at = 0 WHERE id = @saleId", new { saleId });
            }

            await Task.Delay(1500); // the ticker closes it, and the next sale can start
        }

        // Warm up on a first sale, then measure each generator on a fresh one.
        var warm = await PostAsync($"/api/live/sessions/{sessionId}/flash-sales", new { productId = product.GetProperty("id").GetString(), salePriceMinor = 5_000, quantity = 100, durationSeconds = 10, perUserLimit = 1 });
        saleId = warm.GetProperty("id").GetString()!;
        await LoadRunner.RunAsync(concurrency, TimeSpan.FromSeconds(2), Tap);
        await EndSaleAsync();

        var results = new List<LoadResult>();
        foreach (var generator in generators)
        {
            var sale = await PostAsync($"/api/live/sessions/{sessionId}/flash-sales", new { productId = product.GetProperty("id").GetString(), salePriceMinor = 5_000, quantity, durationSeconds = 3600, perUserLimit = 1 });
            saleId = sale.GetProperty("id").GetString()!;
            var name = $"flash-sale burst, {quantity} units, {generator}";
            var result = generator switch
            {
                "dotnet" => await DailyScenarios.MeasureAsync(name, target, concurrency, duration, Tap, warmUp: false),
                "wrk" => await WrkAsync(name, target, concurrency, duration, saleId, buyers),
                _ => throw new ArgumentException($"Unknown generator '{generator}'. Known: dotnet, wrk."),
            };
            await using (var c = await target.OpenDatabaseAsync())
            {
                var orders = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM orders WHERE flash_sale_id = @saleId", new { saleId });
                var distinct = await c.ExecuteScalarAsync<long>("SELECT COUNT(DISTINCT buyer_id) FROM orders WHERE flash_sale_id = @saleId", new { saleId });
                // The .NET loop waits for every answer; wrk stops with up to one request per connection in flight and
                // drops those that time out, so an order may exist whose 201 it never counted (never one it did not make).
                var unanswered = generator == "wrk" ? concurrency + result.Failed : 0;
                Console.WriteLine($"check on {target.Name} ({generator}): {orders} orders from {distinct} buyers for {quantity} units (ok in the table: {result.Ok}; unanswered at most {unanswered})");
                if (orders > quantity || distinct != orders || orders < result.Ok || orders > result.Ok + unanswered)
                {
                    throw new InvalidOperationException($"Oversold or undersold: {orders} orders, {distinct} buyers, {result.Ok} answered 201.");
                }
            }

            results.Add(result);
            await EndSaleAsync();
        }

        return results;
    }

    /// <summary>
    /// The same burst from <c>wrk</c>: a C load generator with a Lua script that sends each request with the next
    /// pre-minted token and a fresh Idempotency-Key, so that the figure is less bound by the generator's own CPU.
    /// </summary>
    private static async Task<LoadResult> WrkAsync(string name, BenchTarget target, int concurrency, TimeSpan duration, string saleId, string[] tokens)
    {
        var work = Directory.CreateTempSubdirectory("pasar-wrk-");
        try
        {
            var tokensFile = Path.Combine(work.FullName, "tokens.txt");
            await File.WriteAllLinesAsync(tokensFile, tokens);
            var start = new ProcessStartInfo("wrk")
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            foreach (var arg in new[]
            {
                $"-t{Math.Min(concurrency, Environment.ProcessorCount)}", $"-c{concurrency}", $"-d{Math.Max(1, (int)Math.Round(duration.TotalSeconds))}s",
                "--latency", "-s", Script(), new Uri(target.Server.BaseAddress, $"/api/flash-sales/{saleId}/purchases").ToString(), "--", tokensFile, saleId,
            })
            {
                start.ArgumentList.Add(arg);
            }

            var cpuBefore = target.CpuSeconds();
            using var wrk = Process.Start(start) ?? throw new InvalidOperationException("wrk did not start (apt-get install wrk).");
            var output = wrk.StandardOutput.ReadToEndAsync();
            var errors = wrk.StandardError.ReadToEndAsync();
            await wrk.WaitForExitAsync();
            var cpu = target.CpuSeconds() - cpuBefore;
            var line = (await output).Split('\n').LastOrDefault(l => l.StartsWith("flash-wrk ", StringComparison.Ordinal))
                ?? throw new InvalidOperationException($"wrk exited {wrk.ExitCode} without a result: {await output} {await errors}");
            var values = line["flash-wrk ".Length..].Split(' ').Select(p => p.Split('=')).ToDictionary(p => p[0], p => double.Parse(p[1], CultureInfo.InvariantCulture));
            return new LoadResult(name, target.Name, (long)values["ok"], (long)values["refused"], (long)values["failed"], values["seconds"],
                values["p50_ms"], values["p99_ms"], cpu, target.Server.PeakRssMb());
        }
        finally
        {
            work.Delete(recursive: true);
        }
    }

    /// <summary>bench/wrk/flash-buy.lua, found from the bench's build output up to the repository.</summary>
    private static string Script()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var script = Path.Combine(dir.FullName, "bench", "wrk", "flash-buy.lua");
            if (File.Exists(script))
            {
                return script;
            }
        }

        throw new FileNotFoundException("bench/wrk/flash-buy.lua was not found above the bench's directory.");
    }
}
