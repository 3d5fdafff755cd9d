using System.Diagnostics;

namespace Pasar.Bench;

/// <summary>The figures one scenario run produces.</summary>
public sealed record LoadResult(string Scenario, string Target, long Ok, long Refused, long Failed, double Seconds, double P50Ms, double P99Ms, double ServerCpuSeconds, double ServerPeakMb)
{
    public double PerSecond => Ok / Seconds;

    public double AttemptsPerSecond => (Ok + Refused + Failed) / Seconds;

    public static string Header =>
        "| scenario | target | ok/s | attempts/s | ok | refused | failed | p50 ms | p99 ms | CPU s (Pasar + its stores) | CPU % of all cores | Pasar peak RSS MB |\n" +
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|";

    public string Row =>
        $"| {Scenario} | {Target} | {PerSecond:F0} | {AttemptsPerSecond:F0} | {Ok} | {Refused} | {Failed} | {P50Ms:F1} | {P99Ms:F1} | {ServerCpuSeconds:F1} | {100 * ServerCpuSeconds / (Seconds * Environment.ProcessorCount):F0} | {ServerPeakMb:F0} |";
}

/// <summary>
/// A closed-loop load generator: <c>concurrency</c> workers each send the next request as soon as the last
/// one answered, for a fixed time. Latencies go into a preallocated array per worker (no locks, no
/// allocation on the hot path), so the generator takes little of the CPU it shares with the server.
/// </summary>
public static class LoadRunner
{
    public enum Outcome
    {
        Ok,
        Refused,
        Failed,
    }

    public static async Task<(long Ok, long Refused, long Failed, double Seconds, double P50, double P99)> RunAsync(
        int concurrency, TimeSpan duration, Func<int, long, Task<Outcome>> request, Func<bool>? stop = null)
    {
        var latencies = new List<double>[concurrency];
        var counts = new long[concurrency, 3];
        var stopwatch = Stopwatch.StartNew();
        var deadline = duration.TotalSeconds;
        var workers = Enumerable.Range(0, concurrency).Select(w => Task.Run(async () =>
        {
            var mine = latencies[w] = new List<double>(100_000);
            for (long n = 0; stopwatch.Elapsed.TotalSeconds < deadline && (stop is null || !stop()); n++)
            {
                var started = Stopwatch.GetTimestamp();
                Outcome outcome;
                try
                {
                    outcome = await request(w, n);
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException or IOException)
                {
                    outcome = Outcome.Failed;
                }

                mine.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
                counts[w, (int)outcome]++;
            }
        })).ToArray();
        await Task.WhenAll(workers);
        var seconds = stopwatch.Elapsed.TotalSeconds;
        var all = latencies.SelectMany(l => l).ToArray();
        Array.Sort(all);
        long Sum(int k) => Enumerable.Range(0, concurrency).Sum(w => counts[w, k]);
        return (Sum(0), Sum(1), Sum(2), seconds, Percentile(all, 0.50), Percentile(all, 0.99));
    }

    public static double Percentile(double[] sorted, double p) => sorted.Length == 0 ? 0 : sorted[Math.Min(sorted.Length - 1, (int)(p * sorted.Length))];
}
