using System.Diagnostics;
using System.Globalization;
using Pasar.Testing;

namespace Pasar.Bench;

/// <summary>
/// chat-memory: what an idle viewer costs the server. N viewers connect and join one room and then only keep the
/// connection alive; the server's RSS before and after, divided by N, per variant of the server's settings (so GC
/// modes and transport options are compared in one run). With <c>--gcdump</c> a heap snapshot of the managed heap
/// is taken with N viewers joined (it forces a full GC, so the RSS after it is a post-GC figure too) and its largest
/// types are printed per viewer.
/// </summary>
public static class ChatMemoryScenario
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    /// <summary>The variants compared: a label and the settings or environment the server starts with.</summary>
    private static readonly Dictionary<string, Dictionary<string, string?>> Variants = new(StringComparer.Ordinal)
    {
        ["default"] = [],
        ["server-gc"] = new() { ["DOTNET_gcServer"] = "1" },
        ["workstation-gc"] = new() { ["DOTNET_gcServer"] = "0" },
        ["workstation-nonconcurrent"] = new() { ["DOTNET_gcServer"] = "0", ["DOTNET_gcConcurrent"] = "0" },
        ["server-gc-dynamic"] = new() { ["DOTNET_gcServer"] = "1", ["DOTNET_GCDynamicAdaptationMode"] = "1" },
        ["workstation-gen0-4mb"] = new() { ["DOTNET_gcServer"] = "0", ["DOTNET_GCgen0size"] = "0x400000" },
        ["workstation-no-request-activity"] = new() { ["DOTNET_gcServer"] = "0", ["Logging:LogLevel:Microsoft.AspNetCore.Hosting.Diagnostics"] = "None" },
        ["peer"] = [],
        ["ws-coalesce"] = [],
        ["socketio"] = [],
    };

    public static async Task RunAsync(string[] args)
    {
        string Option(string name, string fallback)
        {
            var i = Array.IndexOf(args, "--" + name);
            return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
        }

        var viewers = int.Parse(Option("viewers", "5000"), Invariant);
        var variants = Option("variants", "default,server-gc,peer").Split(',', StringSplitOptions.RemoveEmptyEntries);
        var gcdump = args.Contains("--gcdump");
        ChatScenario.EnsureFileLimit(viewers + 1024);
        Console.WriteLine($"Pasar.Bench chat-memory: {viewers} idle viewers joined to one room, {Environment.ProcessorCount} cores");
        Console.WriteLine();
        Console.WriteLine("| target | variant | RSS before MB | RSS joined MB | KB per viewer | RSS after full GC MB | KB per viewer after GC | managed heap after GC MB |");
        Console.WriteLine("|---|---|---:|---:|---:|---:|---:|---:|");
        foreach (var variant in variants)
        {
            if (!Variants.TryGetValue(variant, out var settings))
            {
                throw new ArgumentException($"Unknown variant '{variant}'. Known: {string.Join(", ", Variants.Keys)}.");
            }

            var peer = variant is "peer" or "ws-coalesce" or "socketio";
            await using var target = await ChatTarget.StartAsync(peer ? variant : "pasar", settings);
            var pid = target.ProcessId;
            var room = await target.CreateRoomAsync();
            await using var load = new ChatLoad(target, room);
            await Task.Delay(2000);
            var heapBefore = gcdump && !peer ? (await HeapSnapshotAsync(pid, 1)).HeapMb : 0;
            var before = ProcessStats.RssMb(pid);
            await load.AddViewersAsync(viewers);
            await Task.Delay(3000);
            var joined = ProcessStats.RssMb(pid);
            string afterGc = "", perViewerAfterGc = "", heap = "";
            if (gcdump && !peer)
            {
                var (heapMb, report) = await HeapSnapshotAsync(pid, load.Viewers);
                await Task.Delay(2000);
                var after = ProcessStats.RssMb(pid);
                afterGc = after.ToString("F0", Invariant);
                perViewerAfterGc = ((after - before) * 1024 / Math.Max(1, load.Viewers)).ToString("F1", Invariant);
                heap = $"{heapMb:F1} ({(heapMb - heapBefore) * 1024 / Math.Max(1, load.Viewers):F1} KB per viewer)";
                Console.Error.WriteLine($"  {variant}: largest types with {load.Viewers} viewers (bytes per viewer):");
                Console.Error.WriteLine(report);
            }

            Console.Error.WriteLine($"  {variant}: {Status(pid)}");
            Console.WriteLine($"| {target.Name} | {variant} | {before:F0} | {joined:F0} | {(joined - before) * 1024 / Math.Max(1, load.Viewers):F1} | {afterGc} | {perViewerAfterGc} | {heap} |");
        }
    }

    /// <summary>What Linux says of the process: resident anonymous and file-backed memory, threads.</summary>
    private static string Status(int pid) =>
        string.Join(", ", File.ReadAllLines($"/proc/{pid}/status")
            .Where(l => l.StartsWith("RssAnon:", StringComparison.Ordinal) || l.StartsWith("RssFile:", StringComparison.Ordinal) || l.StartsWith("Threads:", StringComparison.Ordinal))
            .Select(l => string.Join(' ', l.Split((char[])[' ', '\t'], StringSplitOptions.RemoveEmptyEntries))));

    /// <summary>A dotnet-gcdump snapshot (a full GC in the server): the heap's size and its largest per-viewer types.</summary>
    private static async Task<(double HeapMb, string Report)> HeapSnapshotAsync(int pid, int viewers)
    {
        var file = Path.Combine(Path.GetTempPath(), $"pasar-chat-{pid}.gcdump");
        await RunToolAsync("dotnet-gcdump", $"collect -p {pid} -o {file}");
        var report = await RunToolAsync("dotnet-gcdump", $"report {file}");
        File.Delete(file);
        // heapstat: a "N GC Heap bytes" line, then one row per type: the size of one object, the count, the type.
        var lines = report.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        var heapBytes = lines.Where(l => l.EndsWith("GC Heap bytes", StringComparison.Ordinal))
            .Select(l => long.Parse(l.Split(' ')[0], NumberStyles.AllowThousands, Invariant)).FirstOrDefault();
        var rows = new List<(double Bytes, string Type)>();
        foreach (var line in lines)
        {
            var parts = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length >= 3 && long.TryParse(parts[0], NumberStyles.AllowThousands, Invariant, out var size)
                && long.TryParse(parts[1], NumberStyles.AllowThousands, Invariant, out var count) && count >= viewers / 2)
            {
                rows.Add((size * (double)count / viewers, $"{count / (double)viewers,5:F1}x {string.Join(' ', parts.Skip(2))}"));
            }
        }

        var top = rows.OrderByDescending(r => r.Bytes).Take(25).Select(r => $"    {r.Bytes,6:F0} B  {r.Type}");
        return (heapBytes / 1048576.0, $"    {rows.Sum(r => r.Bytes):F0} B per viewer in types with at least one object per two viewers; the largest:\n" + string.Join('\n', top));
    }

    private static async Task<string> RunToolAsync(string tool, string arguments)
    {
        var home = Environment.GetFolderPath(Environment.SpecialFolder.UserProfile);
        var path = Path.Combine(home, ".dotnet", "tools", tool);
        var psi = new ProcessStartInfo(File.Exists(path) ? path : tool, arguments) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"{tool} did not start (dotnet tool install -g {tool}).");
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{tool} {arguments} failed: {await process.StandardError.ReadToEndAsync()}");
        }

        return output;
    }
}
