using System.Net;
using System.Text;

namespace Pasar.Bench;

/// <summary>
/// The daily habit loop. check-ins: every request is a new user's first check-in of the day (ledger row,
/// balance, check-in row, outbox event). shakes: every user plays until the daily limit; the 4th play is
/// the 429 (counted as "refused"), so the gate's refusal path is measured too.
/// </summary>
public static class DailyScenarios
{
    public static async Task<LoadResult> CheckInsAsync(BenchTarget target, int concurrency, TimeSpan duration)
    {
        var minter = new JwtMinter(BenchTarget.SigningKey);
        using var http = Client(target, concurrency);
        var run = Guid.NewGuid().ToString("N")[..6];

        async Task<LoadRunner.Outcome> CheckIn(int worker, long n)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/me/check-ins");
            request.Headers.Authorization = new("Bearer", minter.Mint($"ci-{run}-{worker}-{n}", "buyer"));
            using var response = await http.SendAsync(request);
            return Classify(response.StatusCode, HttpStatusCode.Created, HttpStatusCode.Conflict);
        }

        return await MeasureAsync("check-ins", target, concurrency, duration, CheckIn);
    }

    public static async Task<LoadResult> ShakesAsync(BenchTarget target, int concurrency, TimeSpan duration)
    {
        var minter = new JwtMinter(BenchTarget.SigningKey);
        using var http = Client(target, concurrency);
        var run = Guid.NewGuid().ToString("N")[..6];
        var body = Encoding.UTF8.GetBytes("""{"shakePower":72}""");
        var tokens = new Dictionary<(int, long), string>();

        async Task<LoadRunner.Outcome> Shake(int worker, long n)
        {
            // Four requests per user: three plays and the refused fourth.
            var user = n / 4;
            string token;
            lock (tokens)
            {
                if (!tokens.TryGetValue((worker, user), out token!))
                {
                    tokens[(worker, user)] = token = minter.Mint($"sh-{run}-{worker}-{user}", "buyer");
                }
            }

            using var request = new HttpRequestMessage(HttpMethod.Post, "/api/games/shake") { Content = new ByteArrayContent(body) };
            request.Content.Headers.ContentType = new("application/json");
            request.Headers.Authorization = new("Bearer", token);
            using var response = await http.SendAsync(request);
            return Classify(response.StatusCode, HttpStatusCode.OK, HttpStatusCode.TooManyRequests);
        }

        return await MeasureAsync("shakes", target, concurrency, duration, Shake);
    }

    private static LoadRunner.Outcome Classify(HttpStatusCode status, HttpStatusCode ok, HttpStatusCode refused) =>
        status == ok ? LoadRunner.Outcome.Ok : status == refused ? LoadRunner.Outcome.Refused : LoadRunner.Outcome.Failed;

    internal static HttpClient Client(BenchTarget target, int concurrency) =>
        new(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency }) { BaseAddress = target.Server.BaseAddress, Timeout = TimeSpan.FromSeconds(30) };

    internal static async Task<LoadResult> MeasureAsync(
        string name, BenchTarget target, int concurrency, TimeSpan duration, Func<int, long, Task<LoadRunner.Outcome>> request, Func<bool>? stop = null, bool warmUp = true)
    {
        if (warmUp)
        {
            await LoadRunner.RunAsync(concurrency, TimeSpan.FromSeconds(2), (w, n) => request(w, 1_000_000_000 + n)); // warm-up on other users
        }

        var cpuBefore = target.CpuSeconds();
        var run = await LoadRunner.RunAsync(concurrency, duration, request, stop);
        var cpu = target.CpuSeconds() - cpuBefore;
        return new LoadResult(name, target.Name, run.Ok, run.Refused, run.Failed, run.Seconds, run.P50, run.P99, cpu, target.Server.PeakRssMb());
    }
}
