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

    /// <summary>What a client answers to a whole message from the server, when the protocol asks for one (a server-driven heartbeat).</summary>
    public virtual byte[]? Pong(ReadOnlySpan<byte> message) => null;

    /// <summary>The chat scenario's target names: <c>pasar</c>, <c>peer</c> (naive <c>ws</c>), <c>ws-coalesce</c>, <c>socketio</c>.</summary>
    public static readonly string[] Names = ["pasar", "peer", "ws-coalesce", "socketio"];

    /// <summary>Starts a target by its name; <paramref name="pasarSettings"/> go to the Pasar server only.</summary>
    public static async Task<ChatTarget> StartAsync(string name, IReadOnlyDictionary<string, string?>? pasarSettings = null) => name switch
    {
        "pasar" => await PasarChatTarget.StartAsync(pasarSettings),
        "peer" => await NodePeerChatTarget.StartAsync(),
        "ws-coalesce" => await NodePeerChatTarget.StartAsync(coalesce: true),
        "socketio" => await SocketIoChatTarget.StartAsync(),
        _ => throw new ArgumentException($"Unknown chat target '{name}'. Known: {string.Join(", ", Names)}."),
    };

    /// <summary>When the server process has ended: why, as far as it said (the end of its output).</summary>
    public virtual string? ExitReport() => null;

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

    public override string? ExitReport()
    {
        if (!_target.Server.HasExited)
        {
            return null;
        }

        var output = _target.Server.Output;
        return "Pasar.Server exited: " + output[Math.Max(0, output.Length - 2000)..];
    }

    public override ValueTask DisposeAsync() => _target.DisposeAsync();
}

/// <summary>A Node.js chat server under <c>bench/peers/</c>: its npm dependencies installed (<c>npm ci</c>) when missing, started on a free port.</summary>
public abstract class NodeChatTarget : ChatTarget
{
    private Process? _process;

    protected int Port { get; private set; }

    public override int ProcessId => _process!.Id;

    /// <summary>Installs the peer's locked dependencies when <paramref name="module"/> is missing, then runs <c>node server.js PORT args…</c>.</summary>
    protected async Task StartAsync(string peer, string module, params string[] args)
    {
        var dir = Path.Combine(RepositoryRoot(), "bench", "peers", peer);
        var node = LocalServers.Which("node") ?? throw new ServerUnavailableException("node not found on PATH");
        if (!Directory.Exists(Path.Combine(dir, "node_modules", module)))
        {
            var npm = LocalServers.Which("npm") ?? throw new ServerUnavailableException("npm not found on PATH");
            var install = await LocalServers.RunAsync(npm, ["ci", "--prefix", dir, "--no-audit", "--no-fund"], TimeSpan.FromMinutes(5));
            if (install.ExitCode != 0)
            {
                throw new ServerUnavailableException($"npm ci failed in {dir}: {install.Output}");
            }
        }

        Port = LocalServers.FreePort();
        var psi = new ProcessStartInfo(node) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = dir };
        psi.ArgumentList.Add("server.js");
        psi.ArgumentList.Add(Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        foreach (var arg in args)
        {
            psi.ArgumentList.Add(arg);
        }

        _process = Process.Start(psi)!;
        var listening = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _process.OutputDataReceived += (_, e) =>
        {
            if (e.Data?.StartsWith("listening", StringComparison.Ordinal) == true)
            {
                listening.TrySetResult();
            }
        };
        _process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                Console.Error.WriteLine(peer + ": " + e.Data);
            }
        };
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
        await listening.Task.WaitAsync(TimeSpan.FromSeconds(30));
    }

    public override Task<string> CreateRoomAsync() => Task.FromResult("room-" + Guid.NewGuid().ToString("N")[..8]);

    /// <summary>The Node.js peers need no handshake before the join, and never refuse a message (no rate limit).</summary>
    public override byte[] Handshake { get; } = [];

    public override byte[] ChatRefused { get; } = "\"error\":\""u8.ToArray();

    public override string? ExitReport() => _process is { HasExited: true } p ? $"node exited with {p.ExitCode}" : null;

    /// <summary>The version of <c>node</c> on PATH and of an npm package as the peer has it installed.</summary>
    protected static string Versions(string peer, string module)
    {
        var psi = new ProcessStartInfo("node", "--version") { RedirectStandardOutput = true, UseShellExecute = false };
        using var p = Process.Start(psi)!;
        var node = p.StandardOutput.ReadToEnd().Trim().TrimStart('v');
        p.WaitForExit();
        var manifest = Path.Combine(RepositoryRoot(), "bench", "peers", peer, "node_modules", module, "package.json");
        var version = File.Exists(manifest) ? JsonDocument.Parse(File.ReadAllText(manifest)).RootElement.GetProperty("version").GetString() : "?";
        return $"Node.js {node} + {module} {version}";
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
        if (_process is null)
        {
            return;
        }

        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }
}

/// <summary>
/// <c>bench/peers/ws-broadcast</c>, a plain Node.js <c>ws</c> server: naive (each message its own frame), or with
/// <paramref name="coalesce"/> the same 100 ms coalescing as Pasar (one frame per tick carrying a JSON array).
/// </summary>
public sealed class NodePeerChatTarget : NodeChatTarget
{
    private const string Peer = "ws-broadcast";
    private string _name = "";

    public static async Task<NodePeerChatTarget> StartAsync(bool coalesce = false)
    {
        var target = new NodePeerChatTarget();
        await target.StartAsync(Peer, "ws", coalesce ? "coalesce" : "naive");
        target._name = Versions(Peer, "ws") + (coalesce ? ", 100 ms coalescing (peer)" : " (naive peer)");
        return target;
    }

    public override string Name => _name;

    public override Uri ViewerUri(string anonId) => new($"ws://127.0.0.1:{Port}/?anonId={anonId}");

    public override Uri ChatterUri(string userId) => new($"ws://127.0.0.1:{Port}/?user={userId}");

    public override byte[] Join(string room) => Encoding.UTF8.GetBytes($"{{\"type\":\"join\",\"room\":\"{room}\"}}");

    public override byte[] JoinAck { get; } = "\"joined\""u8.ToArray();

    public override byte[] Ping { get; } = "{\"type\":\"ping\"}"u8.ToArray();

    public override byte[] Chat(string room, string text, long sequence) => Encoding.UTF8.GetBytes($"{{\"type\":\"chat\",\"room\":\"{room}\",\"text\":\"{text}\"}}");
}

/// <summary>
/// <c>bench/peers/socketio-broadcast</c>: Socket.IO 4 with a room broadcast (<c>io.to(room).emit</c>), WebSocket
/// transport only, spoken to in its own framing (Engine.IO v4 packets carrying Socket.IO v5 packets): the room goes
/// in the namespace connect's auth payload (<c>40{…}</c>), chat is the event <c>42["chat",{…}]</c>, and the
/// server's ping <c>2</c> is answered <c>3</c> (Engine.IO's heartbeat runs from the server, so there is no client ping).
/// </summary>
public sealed class SocketIoChatTarget : NodeChatTarget
{
    private const string Peer = "socketio-broadcast";
    private string _name = "";

    public static async Task<SocketIoChatTarget> StartAsync()
    {
        var target = new SocketIoChatTarget();
        await target.StartAsync(Peer, "socket.io");
        target._name = Versions(Peer, "socket.io") + " room broadcast (peer)";
        return target;
    }

    public override string Name => _name;

    public override Uri ViewerUri(string anonId) => new($"ws://127.0.0.1:{Port}/socket.io/?EIO=4&transport=websocket&anonId={anonId}");

    public override Uri ChatterUri(string userId) => new($"ws://127.0.0.1:{Port}/socket.io/?EIO=4&transport=websocket&user={userId}");

    public override byte[] Join(string room) => Encoding.UTF8.GetBytes($"40{{\"room\":\"{room}\"}}");

    public override byte[] JoinAck { get; } = "42[\"joined\"]"u8.ToArray();

    public override byte[] Ping { get; } = [];

    public override byte[]? Pong(ReadOnlySpan<byte> message) => message.SequenceEqual("2"u8) ? PongPacket : null;

    private static readonly byte[] PongPacket = "3"u8.ToArray();

    public override byte[] Chat(string room, string text, long sequence) => Encoding.UTF8.GetBytes($"42[\"chat\",{{\"room\":\"{room}\",\"text\":\"{text}\"}}]");
}
