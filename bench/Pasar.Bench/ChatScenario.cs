using System.Diagnostics;
using System.Globalization;
using System.Net.WebSockets;
using System.Runtime.InteropServices;
using Pasar.Testing;

namespace Pasar.Bench;

/// <summary>
/// chat: live-room fan-out. One room, N WebSocket viewers, C chatters at one message a second each (SPEC's
/// per-user limit), against Pasar and its peers in the same run, each target started fresh per viewer count.
/// Targets (<c>--targets</c>): <c>pasar</c>, <c>peer</c> (naive Node.js <c>ws</c>), <c>ws-coalesce</c> (<c>ws</c>
/// with Pasar's 100 ms coalescing), <c>socketio</c> (Socket.IO 4 room broadcast). Then the slow-consumer check:
/// the same room with one viewer that stops reading.
/// </summary>
public static class ChatScenario
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;
    private static readonly TimeSpan StallLimit = TimeSpan.FromSeconds(300);
    private const int MaxChatLength = 300; // SPEC §6.2

    public static async Task RunAsync(string[] args)
    {
        string Option(string name, string fallback)
        {
            var i = Array.IndexOf(args, "--" + name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        }

        var viewerCounts = Option("viewers", "5000,10000").Split(',').Select(v => int.Parse(v, Invariant)).ToArray();
        var chatters = int.Parse(Option("chatters", "50"), Invariant);
        var seconds = double.Parse(Option("seconds", "20"), Invariant);
        var targets = Option("targets", "pasar,peer").Split(',');
        var stallViewers = int.Parse(Option("stall-viewers", "5000"), Invariant);
        // --server-env DOTNET_gcServer=1: settings or environment for the Pasar server only (not the load generator).
        var serverEnv = Option("server-env", "").Split(',', StringSplitOptions.RemoveEmptyEntries)
            .Select(kv => kv.Split('=', 2)).ToDictionary(kv => kv[0], kv => (string?)kv[1], StringComparer.Ordinal);

        EnsureFileLimit(viewerCounts.Append(stallViewers).Max() + chatters + 1024);
        Console.WriteLine($"Pasar.Bench chat: one room, {chatters} chatters × 1 message every {ChatLoad.ChatPeriod.TotalSeconds:F2} s ({ChatLoad.TextLength}-character text), {seconds} s windows after 3 s warm-up, " +
            $"{Environment.ProcessorCount} cores, {GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1L << 30)} GiB");
        Console.WriteLine();
        Console.WriteLine(
            "| target | viewers | sent msg/s | refused | deliveries/s | of offered | p50 ms | p99 ms | max ms | server CPU s | server CPU % of all cores | server CPU µs per delivery | server peak RSS MB | KB per viewer | connect + join s | viewers dropped | load generator CPU % |\n" +
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        var results = new List<(string Target, int Viewers, ChatWindow Window)>();
        foreach (var n in viewerCounts)
        {
            foreach (var name in targets)
            {
                await using var target = await ChatTarget.StartAsync(name, serverEnv);
                try
                {
                    var window = await MeasureAsync(target, n, chatters, seconds);
                    results.Add((name, n, window));
                }
                catch (Exception ex) when (ex is WebSocketException or TimeoutException or IOException or HttpRequestException)
                {
                    // A target that fails at a size (its process ended, the open-files limit) is reported as such, and the run goes on.
                    Console.WriteLine($"| {target.Name} | {n} | failed: {ex.GetType().Name}: {ex.Message.ReplaceLineEndings(" ")} |");
                    Console.Error.WriteLine($"  {target.Name}, {n} viewers failed: {ex}");
                    Console.Error.WriteLine("  " + (target.ExitReport() ?? "the server process is still running"));
                }
            }
        }

        Console.WriteLine();
        foreach (var n in viewerCounts)
        {
            var pasar = results.FirstOrDefault(r => r.Target == "pasar" && r.Viewers == n).Window;
            foreach (var (peer, _, window) in results.Where(r => r.Target != "pasar" && r.Viewers == n))
            {
                if (pasar is not null)
                {
                    Console.WriteLine($"{n} viewers: Pasar delivers {pasar.DeliveredPerSecond / window.DeliveredPerSecond:F2}× {peer}'s deliveries/s; " +
                        $"p99 {pasar.P99Ms:F0} ms against {window.P99Ms:F0} ms.");
                }
            }
        }

        if (stallViewers > 0 && targets.Contains("pasar"))
        {
            Console.WriteLine();
            await StalledViewerAsync(stallViewers, chatters, seconds);
        }
    }

    private static async Task<ChatWindow> MeasureAsync(ChatTarget target, int viewers, int chatters, double seconds)
    {
        var pid = target.ProcessId;
        var room = await target.CreateRoomAsync();
        await using var load = new ChatLoad(target, room);
        await Task.Delay(1000);
        var rssBefore = ProcessStats.RssMb(pid);
        var setup = Stopwatch.StartNew();
        await load.AddViewersAsync(viewers);
        var setupSeconds = setup.Elapsed.TotalSeconds;
        await Task.Delay(2000);
        var rssJoined = ProcessStats.RssMb(pid);

        await load.StartChattersAsync(chatters);
        await Task.Delay(3000);
        var cpuBefore = ProcessStats.Seconds(pid);
        var benchCpuBefore = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds;
        var clock = Stopwatch.StartNew();
        var droppedBefore = load.Dropped;
        load.BeginWindow();
        await Task.Delay(TimeSpan.FromSeconds(seconds));
        var window = load.EndWindow(clock.Elapsed.TotalSeconds);
        var cpu = ProcessStats.Seconds(pid) - cpuBefore;
        var benchCpu = Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds - benchCpuBefore;
        var cores = Environment.ProcessorCount;
        var offered = (window.Sent - window.Refused) * (double)load.Viewers;
        Console.WriteLine(
            $"| {target.Name} | {load.Viewers} | {window.SentPerSecond:F1} | {window.Refused} | {window.DeliveredPerSecond:F0} | {100 * window.Delivered / Math.Max(1, offered):F0} % | " +
            $"{window.P50Ms:F1} | {window.P99Ms:F1} | {window.MaxMs:F0} | {cpu:F1} | {100 * cpu / (window.Seconds * cores):F0} | {cpu * 1e6 / Math.Max(1, window.Delivered):F2} | {ProcessStats.PeakRssMb(pid):F0} | " +
            $"{(rssJoined - rssBefore) * 1024 / Math.Max(1, load.Viewers):F1} | {setupSeconds:F1} | {load.Dropped - droppedBefore + load.ConnectFailures} | {100 * benchCpu / (window.Seconds * cores):F0} |");
        Console.Error.WriteLine($"  {target.Name}, {load.Viewers} viewers: {load.LatencySplit()}");
        return window;
    }

    /// <summary>
    /// Issue 6, must-show 3: one viewer stops reading. The others' latency in a window without it, while it fills
    /// its buffers until the server drops it, and after.
    /// </summary>
    private static async Task StalledViewerAsync(int viewers, int chatters, double seconds)
    {
        await using var target = await PasarChatTarget.StartAsync();
        var room = await target.CreateRoomAsync();
        // The longest text SPEC allows, so that the stalled viewer's kernel buffers (a few MB on loopback) fill sooner.
        await using var load = new ChatLoad(target, room, textLength: MaxChatLength);
        await load.AddViewersAsync(viewers);
        await load.StartChattersAsync(chatters);
        await Task.Delay(3000);

        Console.WriteLine($"Slow consumer, Pasar, {load.Viewers} viewers, {chatters} chatters, {MaxChatLength}-character texts:");
        Console.WriteLine();
        Console.WriteLine("| phase | seconds | deliveries/s (other viewers) | p50 ms | p99 ms | max ms | other viewers dropped | slow consumers dropped (server counter) |\n|---|---:|---:|---:|---:|---:|---:|---:|");

        async Task<ChatWindow> Window(string phase, Func<Task> wait)
        {
            var dropped = load.Dropped;
            var clock = Stopwatch.StartNew();
            load.BeginWindow();
            await wait();
            var w = load.EndWindow(clock.Elapsed.TotalSeconds);
            Console.WriteLine($"| {phase} | {w.Seconds:F1} | {w.DeliveredPerSecond:F0} | {w.P50Ms:F1} | {w.P99Ms:F1} | {w.MaxMs:F0} | {load.Dropped - dropped} | {await target.SlowConsumersDroppedAsync()} |");
            return w;
        }

        await Window("without a stalled viewer", () => Task.Delay(TimeSpan.FromSeconds(seconds)));
        var before = await target.SlowConsumersDroppedAsync();
        await using var stalled = await StalledViewer.JoinAsync(target, room);
        var joined = Stopwatch.StartNew();
        var droppedAfter = TimeSpan.Zero;
        await Window("stalled viewer joined, until the server drops it", async () =>
        {
            while (joined.Elapsed < StallLimit)
            {
                if (await target.SlowConsumersDroppedAsync() > before)
                {
                    droppedAfter = joined.Elapsed;
                    return;
                }

                await Task.Delay(250);
            }
        });
        await Window("after the drop", () => Task.Delay(TimeSpan.FromSeconds(seconds)));
        Console.WriteLine();
        Console.WriteLine(droppedAfter > TimeSpan.Zero
            ? $"The stalled viewer was dropped {droppedAfter.TotalSeconds:F1} s after it stopped reading."
            : $"The stalled viewer was NOT dropped within {StallLimit.TotalSeconds} s.");
    }

    /// <summary>Each side needs a socket per viewer: raises the soft open-files limit to the hard one when it is lower than needed.</summary>
    internal static void EnsureFileLimit(int needed)
    {
        if (!OperatingSystem.IsLinux() || GetRLimit(RLimitNoFile, out var limit) != 0 || limit.Current >= (ulong)needed)
        {
            return;
        }

        limit.Current = Math.Min(limit.Maximum, Math.Max((ulong)needed, limit.Current));
        _ = SetRLimit(RLimitNoFile, ref limit);
        _ = GetRLimit(RLimitNoFile, out limit);
        if (limit.Current < (ulong)needed)
        {
            throw new InvalidOperationException($"The open-files limit is {limit.Current}, this run needs {needed}: run `ulimit -n {needed}` (as root, or raise the hard limit) first.");
        }
    }

    private const int RLimitNoFile = 7;

    [StructLayout(LayoutKind.Sequential)]
    private struct RLimit
    {
        public ulong Current;
        public ulong Maximum;
    }

    [DllImport("libc", EntryPoint = "getrlimit", SetLastError = true)]
    private static extern int GetRLimit(int resource, out RLimit limit);

    [DllImport("libc", EntryPoint = "setrlimit", SetLastError = true)]
    private static extern int SetRLimit(int resource, ref RLimit limit);
}
