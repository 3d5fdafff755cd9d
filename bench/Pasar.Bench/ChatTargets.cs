using System.Diagnostics;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Pasar.Testing;

namespace Pasar.Bench;

/// <summary>
/// A chat server the chat scenario drives, with its protocol adapter: the load (viewers, chatters, message
/// size, rate) is the same for every target; only the bytes that say "join", "chat" and "ping" differ.
/// Both protocols carry the message text as <c>"text":"…"</c>, which is what viewers scan for.
/// </summary>
public abstract class ChatTarget : IAsyncDisposable
{
    public abstract string Name { get; }

    /// <summary>The process whose CPU and memory are reported.</summary>
    public abstract int ProcessId { get; }

    public abstract Task<string> CreateRoomAsync();

    public abstract Uri ViewerUri(string anonId);

    public abstract Uri ChatterUri(string userId);

    /// <summary>Sent once right after the WebSocket opens (the SignalR handshake), or empty.</summary>
    public abstract byte[] Handshake { get; }

    public abstract byte[] Join(string room);

    /// <summary>Bytes that appear in the answer to <see cref="Join"/> and nowhere before it.</summary>
    public abstract byte[] JoinAck { get; }

    public abstract byte[] Ping { get; }

    public abstract byte[] Chat(string room, string text, long sequence);

    /// <summary>Bytes that appear in the answer to a refused chat message.</summary>
    public abstract byte[] ChatRefused { get; }

    /// <summary>Bytes of the server's answer to a chat message, when the protocol has one (then a chatter waits for it).</summary>
    public virtual byte[]? ChatAnswered => null;

    public abstract ValueTask DisposeAsync();
}

/// <summary>Pasar.Server (SQLite + embedded Garnet), spoken to in the SignalR JSON protocol on <c>/hubs/live</c>.</summary>
public sealed class PasarChatTarget : ChatTarget
{
    private readonly BenchTarget _target;
    private readonly JwtMinter _minter = new(BenchTarget.SigningKey);

    private PasarChatTarget(BenchTarget target) => _target = target;

    public static async Task<PasarChatTarget> StartAsync(IReadOnlyDictionary<string, string?>? settings = null) =>
        new(await BenchTarget.StartAsync("embedded", settings));

    public override string Name => "Pasar (SignalR JSON)";

    public override int ProcessId => _target.Server.ProcessId;

    public BenchTarget Target => _target;

    public override async Task<string> CreateRoomAsync()
    {
        using var http = _target.Server.NewClient(_minter.Mint("chat-bench-seller", "seller"));
        var response = await http.PostAsJsonAsync("/api/live/sessions", new { title = "Chat fan-out bench" });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetString()!;
    }

    public override Uri ViewerUri(string anonId) => new($"ws://{_target.Server.BaseAddress.Authority}/hubs/live?anonId={anonId}");

    public override Uri ChatterUri(string userId) =>
        new($"ws://{_target.Server.BaseAddress.Authority}/hubs/live?access_token={_minter.Mint(userId, "buyer")}");

    public override byte[] Handshake { get; } = "{\"protocol\":\"json\",\"version\":1}\u001e"u8.ToArray();

    public override byte[] Join(string room) => Encoding.UTF8.GetBytes($"{{\"type\":1,\"invocationId\":\"1\",\"target\":\"JoinSession\",\"arguments\":[\"{room}\"]}}\u001e");

    public override byte[] JoinAck { get; } = "\"invocationId\":\"1\",\"result\""u8.ToArray();

    public override byte[] Ping { get; } = "{\"type\":6}\u001e"u8.ToArray();

    public override byte[] Chat(string room, string text, long sequence) =>
        Encoding.UTF8.GetBytes($"{{\"type\":1,\"invocationId\":\"c{sequence}\",\"target\":\"SendChat\",\"arguments\":[\"{room}\",\"{text}\"]}}\u001e");

    public override byte[] ChatRefused { get; } = "\"error\":\""u8.ToArray();

    public override byte[]? ChatAnswered { get; } = "\"type\":3,\"invocationId\":\"c"u8.ToArray();

    /// <summary>Slow consumers the server has dropped so far (its Prometheus counter).</summary>
    public async Task<long> SlowConsumersDroppedAsync()
    {
        using var http = _target.Server.NewClient();
        var text = await http.GetStringAsync("/metrics");
        return text.Split('\n')
            .Where(l => l.StartsWith("pasar_room_slow_consumers_dropped", StringComparison.Ordinal))
            .Sum(l => (long)double.Parse(l[(l.LastIndexOf(' ') + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }

    public override ValueTask DisposeAsync() => _target.DisposeAsync();
}

/// <summary>The peer: <c>bench/peers/ws-broadcast</c>, a plain Node.js <c>ws</c> server broadcasting each message as its own frame.</summary>
public sealed class NodePeerChatTarget : ChatTarget
{
    private readonly Process _process;
    private readonly int _port;
    private readonly string _name = $"Node.js {NodeVersion()} + ws (peer)";

    private NodePeerChatTarget(Process process, int port)
    {
        _process = process;
        _port = port;
    }

    public static async Task<NodePeerChatTarget> StartAsync()
    {
        var dir = Path.Combine(RepositoryRoot(), "bench", "peers", "ws-broadcast");
        var node = LocalServers.Which("node") ?? throw new ServerUnavailableException("node not found on PATH");
        if (!Directory.Exists(Path.Combine(dir, "node_modules", "ws")))
        {
            var npm = LocalServers.Which("npm") ?? throw new ServerUnavailableException("npm not found on PATH");
            var install = await LocalServers.RunAsync(npm, ["ci", "--prefix", dir, "--no-audit", "--no-fund"], TimeSpan.FromMinutes(5));
            if (install.ExitCode != 0)
            {
                throw new ServerUnavailableException($"npm ci failed in {dir}: {install.Output}");
            }
        }

        var port = LocalServers.FreePort();
        var psi = new ProcessStartInfo(node) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir };
        psi.ArgumentList.Add("server.js");
        psi.ArgumentList.Add(port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var process = Process.Start(psi)!;
        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        process.OutputDataReceived += (_, e) =>
        {
            if (e.Data?.StartsWith("listening", StringComparison.Ordinal) == true)
            {
                listening.TrySetResult();
            }
        };
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                Console.Error.WriteLine("peer: " + e.Data);
            }
        };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        await listening.Task.WaitAsync(TimeSpan.FromSeconds(30));
        return new NodePeerChatTarget(process, port);
    }

    public override string Name => _name;

    public override int ProcessId => _process.Id;

    public override Task<string> CreateRoomAsync() => Task.FromResult("room-" + Guid.NewGuid().ToString("N")[..8]);

    public override Uri ViewerUri(string anonId) => new($"ws://127.0.0.1:{_port}/?anonId={anonId}");

    public override Uri ChatterUri(string userId) => new($"ws://127.0.0.1:{_port}/?user={userId}");

    public override byte[] Handshake { get; } = [];

    public override byte[] Join(string room) => Encoding.UTF8.GetBytes($"{{\"type\":\"join\",\"room\":\"{room}\"}}");

    public override byte[] JoinAck { get; } = "\"joined\""u8.ToArray();

    public override byte[] Ping { get; } = "{\"type\":\"ping\"}"u8.ToArray();

    public override byte[] Chat(string room, string text, long sequence) => Encoding.UTF8.GetBytes($"{{\"type\":\"chat\",\"room\":\"{room}\",\"text\":\"{text}\"}}");

    public override byte[] ChatRefused { get; } = "\"error\":\""u8.ToArray();

    private static string NodeVersion()
    {
        var psi = new ProcessStartInfo("node", "--version") { RedirectStandardOutput = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        var version = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return version.TrimStart('v');
    }

    private static string RepositoryRoot()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Pasar.slnx")))
        {
            dir = dir.Parent;
        }

        return dir?.FullName ?? throw new InvalidOperationException("Cannot find the repository root (Pasar.slnx) above " + AppContext.BaseDirectory);
    }

    public override async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}
