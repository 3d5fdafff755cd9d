using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Net.WebSockets;
using System.Text;

namespace Pasar.Bench;

/// <summary>
/// One room under load: N WebSocket viewers that only read, C chatters that each send one message a second.
/// Built to cost the machine as little as possible, because it shares the cores with the server it measures:
/// <list type="bullet">
/// <item>a viewer waits with a zero-byte receive and holds no buffer while idle; the 64 KiB buffer it reads
/// into is rented from the shared pool only while data is there;</item>
/// <item>messages are counted by scanning the bytes for <c>"text":"t:</c> (vectorized <c>IndexOf</c>), and the
/// send timestamp right after the marker is parsed in place: no JSON parsing, no per-message allocation;</item>
/// <item>every delivery on every viewer goes into one lock-free latency histogram (0.1 ms buckets).</item>
/// </list>
/// </summary>
public sealed class ChatLoad : IAsyncDisposable
{
    public const int TextLength = 100;

    /// <summary>Each chatter's period (SPEC: at most one message per user per second).</summary>
    public static readonly TimeSpan ChatPeriod = TimeSpan.FromSeconds(1);

    private const int ReceiveBufferSize = 64 * 1024;
    private const long BucketMicroseconds = 100;
    private const int Buckets = 1_200_000; // 0.1 ms × 1.2 M = 120 s

    private static readonly byte[] Marker = "\"text\":\"t:"u8.ToArray();
    private static readonly int Carry = Marker.Length + 24;
    private static readonly long Period = (long)(ChatPeriod.TotalSeconds * Stopwatch.Frequency);

    private readonly ChatTarget _target;
    private readonly string _room;
    private readonly HttpMessageInvoker _invoker;
    private readonly List<Viewer> _viewers = [];
    private readonly List<Chatter> _chatters = [];
    private readonly long[] _histogram = new long[Buckets];
    private readonly CancellationTokenSource _stop = new();
    private readonly string _run = Guid.NewGuid().ToString("N")[..6];
    private int _measuring;
    private long _dropped;
    private long _connectFailures;
    private int _nextIndex;
    private Task? _pinger;
    private Task[] _senders = [];

    private readonly int _textLength;

    public ChatLoad(ChatTarget target, string room, int textLength = TextLength)
    {
        _target = target;
        _room = room;
        _textLength = textLength;
        _invoker = new HttpMessageInvoker(new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(30),
            ConnectCallback = async (context, ct) =>
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                try
                {
                    await socket.ConnectAsync(context.DnsEndPoint.Host == "127.0.0.1" ? new IPEndPoint(IPAddress.Loopback, context.DnsEndPoint.Port) : context.DnsEndPoint, ct);
                    return new NetworkStream(socket, ownsSocket: true);
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            },
        });
    }

    public int Viewers => _viewers.Count;

    /// <summary>Viewers whose connection ended while the load ran (dropped by the server, or failed).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    public long ConnectFailures => Interlocked.Read(ref _connectFailures);

    /// <summary>Connects and joins <paramref name="count"/> viewers, <paramref name="parallel"/> at a time.</summary>
    public async Task AddViewersAsync(int count, int parallel = 64)
    {
        using var gate = new SemaphoreSlim(parallel);
        var joins = new List<Task>(count);
        for (var i = 0; i < count; i++)
        {
            await gate.WaitAsync();
            var index = Interlocked.Increment(ref _nextIndex);
            joins.Add(Task.Run(async () =>
            {
                try
                {
                    var viewer = await ConnectViewerAsync(index);
                    lock (_viewers)
                    {
                        _viewers.Add(viewer);
                    }
                }
                catch (Exception ex) when (ex is WebSocketException or TimeoutException or HttpRequestException or IOException or OperationCanceledException)
                {
                    Interlocked.Increment(ref _connectFailures);
                }
                finally
                {
                    gate.Release();
                }
            }));
        }

        await Task.WhenAll(joins);
        _pinger ??= PingLoopAsync();
    }

    private async Task<Viewer> ConnectViewerAsync(int index)
    {
        var socket = new ClientWebSocket();
        socket.Options.KeepAliveInterval = TimeSpan.Zero; // the protocol's own ping keeps the hub's client timeout happy
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await socket.ConnectAsync(_target.ViewerUri($"bench-{_run}-{index:D6}"), _invoker, timeout.Token);
        var viewer = new Viewer(socket) { Sampled = index % 100 == 0 };
        if (_target.Handshake.Length > 0)
        {
            await socket.SendAsync(_target.Handshake, WebSocketMessageType.Text, true, timeout.Token);
        }

        await socket.SendAsync(_target.Join(_room), WebSocketMessageType.Text, true, timeout.Token);
        viewer.Receiving = ReceiveLoopAsync(viewer);
        await viewer.Joined.Task.WaitAsync(timeout.Token);
        return viewer;
    }

    /// <summary>Connects the chatters and starts them sending, each once a second, spread evenly over the second.</summary>
    public async Task StartChattersAsync(int count)
    {
        for (var i = 0; i < count; i++)
        {
            var socket = new ClientWebSocket();
            socket.Options.KeepAliveInterval = TimeSpan.Zero;
            await socket.ConnectAsync(_target.ChatterUri($"chatter-{_run}-{i:D3}"), _invoker, CancellationToken.None);
            if (_target.Handshake.Length > 0)
            {
                await socket.SendAsync(_target.Handshake, WebSocketMessageType.Text, true, CancellationToken.None);
            }

            // Chat goes only to a room one has joined (SPEC §17); a connection's calls run in order, so the join
            // is done before its first message.
            await socket.SendAsync(_target.Join(_room), WebSocketMessageType.Text, true, CancellationToken.None);
            var chatter = new Chatter(socket);
            chatter.Receiving = ChatterReceiveLoopAsync(chatter);
            // Some servers (Socket.IO) close a connection that sends an event before its join is done.
            await chatter.Joined.Task.WaitAsync(TimeSpan.FromSeconds(60));
            _chatters.Add(chatter);
        }

        var start = Stopwatch.GetTimestamp() + Stopwatch.Frequency / 10;
        _senders = _chatters.Select((c, i) => SendLoopAsync(c, start + i * Period / count)).ToArray();
    }

    private async Task SendLoopAsync(Chatter chatter, long next)
    {
        var padding = new string('x', _textLength);
        long sequence = 0;
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var wait = Stopwatch.GetElapsedTime(Stopwatch.GetTimestamp(), next);
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait, _stop.Token);
                }

                // The text carries the send time (this process's Stopwatch) and is padded to TextLength characters.
                var stamp = "t:" + Stopwatch.GetTimestamp().ToString(System.Globalization.CultureInfo.InvariantCulture) +
                    " w:" + DateTimeOffset.UtcNow.ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture) + " ";
                var frame = _target.Chat(_room, stamp + padding[stamp.Length..], ++sequence);
                var answered = chatter.Answered = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
                await chatter.Socket.SendAsync(frame, WebSocketMessageType.Text, true, _stop.Token);
                if (Volatile.Read(ref _measuring) == 1)
                {
                    chatter.Sent++;
                }

                next += Period;
                if (_target.ChatAnswered is not null)
                {
                    // The server allows one message per user per second on its own clock: like a real client, wait
                    // for the answer and never send sooner than a second after it (the server accepted it before).
                    await answered.Task.WaitAsync(TimeSpan.FromSeconds(10), _stop.Token);
                    next = Math.Max(next, Stopwatch.GetTimestamp() + Stopwatch.Frequency + Stopwatch.Frequency / 50);
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or TimeoutException)
        {
        }
    }

    private async Task ChatterReceiveLoopAsync(Chatter chatter)
    {
        var buffer = new byte[16 * 1024];
        try
        {
            while (true)
            {
                var result = await chatter.Socket.ReceiveAsync(buffer.AsMemory(), _stop.Token);
                if (result.MessageType == WebSocketMessageType.Close)
                {
                    return;
                }

                var data = buffer.AsSpan(0, result.Count);
                if (!chatter.Joined.Task.IsCompleted && data.IndexOf(_target.JoinAck) >= 0)
                {
                    chatter.Joined.TrySetResult();
                }

                if (Volatile.Read(ref _measuring) == 1)
                {
                    chatter.Refused += Occurrences(data, _target.ChatRefused);
                }

                if (result.EndOfMessage && _target.Pong(data) is { } pong)
                {
                    await chatter.Socket.SendAsync(pong, WebSocketMessageType.Text, true, _stop.Token);
                }

                if (_target.ChatAnswered is { } answer && buffer.AsSpan(0, result.Count).IndexOf(answer) >= 0)
                {
                    chatter.Answered?.TrySetResult();
                }
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException)
        {
        }
        finally
        {
            chatter.Joined.TrySetException(new WebSocketException("closed before joining"));
        }
    }

    private async Task ReceiveLoopAsync(Viewer viewer)
    {
        byte[]? buffer = null;
        try
        {
            while (true)
            {
                // Wait for data without holding a buffer: idle viewers cost no receive memory.
                var probe = await viewer.Socket.ReceiveAsync(Memory<byte>.Empty, _stop.Token);
                if (probe.MessageType == WebSocketMessageType.Close)
                {
                    break;
                }

                buffer = ArrayPool<byte>.Shared.Rent(ReceiveBufferSize);
                var filled = 0;
                while (true)
                {
                    var result = await viewer.Socket.ReceiveAsync(buffer.AsMemory(filled), _stop.Token);
                    if (result.MessageType == WebSocketMessageType.Close)
                    {
                        throw new WebSocketException("closed by the server");
                    }

                    filled += result.Count;
                    if (result.EndOfMessage)
                    {
                        Scan(viewer, buffer.AsSpan(0, filled), final: true);
                        if (_target.Pong(buffer.AsSpan(0, filled)) is { } pong)
                        {
                            await viewer.Socket.SendAsync(pong, WebSocketMessageType.Text, true, _stop.Token);
                        }

                        break;
                    }

                    if (filled == buffer.Length)
                    {
                        var kept = Scan(viewer, buffer.AsSpan(0, filled), final: false);
                        buffer.AsSpan(filled - kept, kept).CopyTo(buffer);
                        filled = kept;
                    }
                }

                ArrayPool<byte>.Shared.Return(buffer);
                buffer = null;
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or IOException)
        {
        }
        finally
        {
            if (buffer is not null)
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }

            viewer.Joined.TrySetException(new WebSocketException("closed before joining"));
            if (!_stop.IsCancellationRequested)
            {
                viewer.Closed = true;
                Interlocked.Increment(ref _dropped);
            }
        }
    }

    /// <summary>Counts the chat messages in <paramref name="data"/> and records their latency; returns how many trailing bytes to keep.</summary>
    private int Scan(Viewer viewer, ReadOnlySpan<byte> data, bool final)
    {
        if (!viewer.Joined.Task.IsCompleted && data.IndexOf(_target.JoinAck) >= 0)
        {
            viewer.Joined.TrySetResult();
        }

        var measuring = Volatile.Read(ref _measuring) == 1;
        var now = Stopwatch.GetTimestamp();
        var limit = final ? data.Length : data.Length - Carry;
        var pos = 0;
        while (true)
        {
            var i = data[pos..].IndexOf(Marker);
            if (i < 0 || pos + i > limit)
            {
                break;
            }

            pos += i + Marker.Length;
            long sent = 0;
            while (pos < data.Length && (uint)(data[pos] - '0') <= 9)
            {
                sent = sent * 10 + (data[pos++] - '0');
            }

            if (measuring)
            {
                viewer.Received++;
                var micros = (now - sent) * 1_000_000 / Stopwatch.Frequency;
                Interlocked.Increment(ref _histogram[Math.Clamp(micros / BucketMicroseconds, 0, Buckets - 1)]);
                if (viewer.Sampled)
                {
                    SplitLatency(data[pos..], micros);
                }
            }
        }

        return final ? 0 : data.Length - Math.Max(pos, limit);
    }

    /// <summary>
    /// On a sample of viewers only (one in a hundred): where the time went, from the wall-clock send time in the
    /// text and the server's <c>sentAt</c> (both this machine's clock, millisecond precision): send → accepted
    /// by the server (ingest, including the wait for the hub), and accepted → received (tick + fan-out).
    /// </summary>
    private void SplitLatency(ReadOnlySpan<byte> rest, long totalMicros)
    {
        var w = rest.IndexOf("w:"u8);
        var at = rest.IndexOf(SentAtMarker);
        if (w < 0 || at < 0 || !System.Buffers.Text.Utf8Parser.TryParse(rest[(w + 2)..], out long sentMs, out _))
        {
            return;
        }

        var end = rest[(at + SentAtMarker.Length)..].IndexOf((byte)'"');
        if (end < 0 || !DateTimeOffset.TryParse(Encoding.ASCII.GetString(rest.Slice(at + SentAtMarker.Length, end)), System.Globalization.CultureInfo.InvariantCulture, System.Globalization.DateTimeStyles.None, out var accepted))
        {
            return;
        }

        var ingestMs = Math.Clamp(accepted.ToUnixTimeMilliseconds() - sentMs, 0, 120_000);
        lock (_split)
        {
            _split.Add((ingestMs, Math.Max(0, totalMicros / 1000.0 - ingestMs)));
        }
    }

    private static readonly byte[] SentAtMarker = "\"sentAt\":\""u8.ToArray();
    private readonly List<(double Ingest, double Fanout)> _split = [];

    /// <summary>Median and p99 of the two parts of the latency over the window, from the sampled viewers.</summary>
    public string LatencySplit()
    {
        lock (_split)
        {
            if (_split.Count == 0)
            {
                return "no samples";
            }

            var ingest = _split.Select(s => s.Ingest).Order().ToArray();
            var fanout = _split.Select(s => s.Fanout).Order().ToArray();
            return $"send → accepted p50 {LoadRunner.Percentile(ingest, 0.5):F0} ms, p99 {LoadRunner.Percentile(ingest, 0.99):F0} ms; " +
                $"accepted → received p50 {LoadRunner.Percentile(fanout, 0.5):F0} ms, p99 {LoadRunner.Percentile(fanout, 0.99):F0} ms ({_split.Count} samples)";
        }
    }

    private static long Occurrences(ReadOnlySpan<byte> data, ReadOnlySpan<byte> needle)
    {
        long n = 0;
        int i;
        while ((i = data.IndexOf(needle)) >= 0)
        {
            n++;
            data = data[(i + needle.Length)..];
        }

        return n;
    }

    /// <summary>
    /// What every viewer sends to keep its connection alive, and how often: the protocol's ping every 10 s by default
    /// (none when the protocol's heartbeat is the server's: then <see cref="ChatTarget.Pong"/> answers it).
    /// A scenario may send a hub call instead (the analytics bench's heartbeats), changed while the load runs.
    /// </summary>
    public (byte[] Message, TimeSpan Period)? KeepAlive { get; set; }

    // Sends spread evenly over each period, so 10,000 viewers beating every second offer a steady 10,000 calls/s.
    private async Task PingLoopAsync()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                var (message, period) = KeepAlive ?? (_target.Ping, TimeSpan.FromSeconds(10));
                Viewer[] viewers;
                lock (_viewers)
                {
                    viewers = [.. _viewers];
                }

                var started = Stopwatch.GetTimestamp();
                for (var i = 0; i < viewers.Length; i++)
                {
                    var due = period * i / Math.Max(1, viewers.Length) - Stopwatch.GetElapsedTime(started);
                    if (due > TimeSpan.FromMilliseconds(2))
                    {
                        await Task.Delay(due, _stop.Token);
                    }

                    if (viewers[i].Closed || message.Length == 0)
                    {
                        continue;
                    }

                    try
                    {
                        await viewers[i].Socket.SendAsync(message, WebSocketMessageType.Text, true, _stop.Token);
                    }
                    catch (WebSocketException)
                    {
                    }
                }

                var rest = period - Stopwatch.GetElapsedTime(started);
                if (rest > TimeSpan.Zero)
                {
                    await Task.Delay(rest, _stop.Token);
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Starts a measurement window: deliveries, latencies, sent and refused messages from now on.</summary>
    public void BeginWindow()
    {
        Volatile.Write(ref _measuring, 0);
        Array.Clear(_histogram);
        lock (_split)
        {
            _split.Clear();
        }
        lock (_viewers)
        {
            foreach (var v in _viewers)
            {
                v.Received = 0;
            }
        }

        foreach (var c in _chatters)
        {
            c.Sent = 0;
            c.Refused = 0;
        }

        Volatile.Write(ref _measuring, 1);
    }

    public ChatWindow EndWindow(double seconds)
    {
        Volatile.Write(ref _measuring, 0);
        long delivered;
        lock (_viewers)
        {
            delivered = _viewers.Sum(v => v.Received);
        }

        return new ChatWindow(seconds, _chatters.Sum(c => c.Sent), _chatters.Sum(c => c.Refused), delivered,
            Percentile(0.50), Percentile(0.99), Percentile(1.0));
    }

    private double Percentile(double p)
    {
        var total = _histogram.Sum();
        if (total == 0)
        {
            return 0;
        }

        var rank = Math.Max(1, (long)Math.Ceiling(p * total));
        long seen = 0;
        for (var b = 0; b < Buckets; b++)
        {
            seen += _histogram[b];
            if (seen >= rank)
            {
                return (b + 1) * BucketMicroseconds / 1000.0; // upper edge of the bucket, in ms
            }
        }

        return Buckets * BucketMicroseconds / 1000.0;
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_senders.Concat(_pinger is null ? [] : [_pinger]));
        foreach (var c in _chatters)
        {
            c.Socket.Abort();
            c.Socket.Dispose();
        }

        foreach (var v in _viewers)
        {
            v.Socket.Abort();
            v.Socket.Dispose();
        }

        await Task.WhenAll(_viewers.Select(v => v.Receiving ?? Task.CompletedTask).Concat(_chatters.Select(c => c.Receiving ?? Task.CompletedTask)));
        _invoker.Dispose();
        _stop.Dispose();
    }

    private sealed class Viewer(ClientWebSocket socket)
    {
        public ClientWebSocket Socket { get; } = socket;

        public TaskCompletionSource Joined { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public Task? Receiving { get; set; }

        public long Received;

        public volatile bool Closed;

        public bool Sampled;
    }

    private sealed class Chatter(ClientWebSocket socket)
    {
        public ClientWebSocket Socket { get; } = socket;

        public Task? Receiving { get; set; }

        public long Sent;

        public long Refused;

        public TaskCompletionSource Joined { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public volatile TaskCompletionSource? Answered;
    }
}

/// <summary>What one measurement window saw: messages sent and refused, deliveries (message × viewer), latency in ms.</summary>
public sealed record ChatWindow(double Seconds, long Sent, long Refused, long Delivered, double P50Ms, double P99Ms, double MaxMs)
{
    public double DeliveredPerSecond => Delivered / Seconds;

    public double SentPerSecond => Sent / Seconds;
}

/// <summary>
/// A viewer that joins and then never reads again, on a raw socket with a small receive buffer: what a phone in
/// a tunnel looks like to the server. It keeps sending the protocol ping, so only the send-buffer policy can drop it.
/// </summary>
public sealed class StalledViewer : IAsyncDisposable
{
    private readonly Socket _socket;
    private readonly WebSocket _webSocket;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _pinger;

    private StalledViewer(Socket socket, WebSocket webSocket, byte[] ping)
    {
        _socket = socket;
        _webSocket = webSocket;
        _pinger = PingAsync(ping);
    }

    public static async Task<StalledViewer> JoinAsync(ChatTarget target, string room)
    {
        var uri = target.ViewerUri("bench-stalled-" + Guid.NewGuid().ToString("N")[..8]);
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveBufferSize = 4096 };
        await socket.ConnectAsync(new IPEndPoint(IPAddress.Loopback, uri.Port));
        var stream = new NetworkStream(socket, ownsSocket: false);
        var key = Convert.ToBase64String(Guid.NewGuid().ToByteArray());
        await stream.WriteAsync(Encoding.ASCII.GetBytes(
            $"GET {uri.PathAndQuery} HTTP/1.1\r\nHost: {uri.Authority}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n"));
        // Read the 101 response byte by byte, so nothing after its headers is consumed here.
        var head = new StringBuilder();
        var one = new byte[1];
        while (!head.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await stream.ReadAsync(one) == 0)
            {
                throw new IOException("closed during the upgrade");
            }

            head.Append((char)one[0]);
        }

        if (!head.ToString().StartsWith("HTTP/1.1 101", StringComparison.Ordinal))
        {
            throw new IOException("upgrade refused: " + head);
        }

        var webSocket = WebSocket.CreateFromStream(stream, new WebSocketCreationOptions { IsServer = false, KeepAliveInterval = TimeSpan.Zero });
        if (target.Handshake.Length > 0)
        {
            await webSocket.SendAsync(target.Handshake, WebSocketMessageType.Text, true, CancellationToken.None);
        }

        await webSocket.SendAsync(target.Join(room), WebSocketMessageType.Text, true, CancellationToken.None);
        var buffer = new byte[64 * 1024];
        var seen = new List<byte>();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        while (seen.ToArray().AsSpan().IndexOf(target.JoinAck) < 0)
        {
            var r = await webSocket.ReceiveAsync(buffer.AsMemory(), timeout.Token);
            seen.AddRange(buffer.AsSpan(0, r.Count));
        }

        // From here on it never reads again.
        return new StalledViewer(socket, webSocket, target.Ping);
    }

    private async Task PingAsync(byte[] ping)
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                await Task.Delay(TimeSpan.FromSeconds(5), _stop.Token);
                await _webSocket.SendAsync(ping, WebSocketMessageType.Text, true, _stop.Token);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or WebSocketException or IOException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _pinger;
        _webSocket.Abort();
        _socket.Dispose();
        _stop.Dispose();
    }
}
