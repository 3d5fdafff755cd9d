using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Pasar.Server.Live;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.Live;

/// <summary>
/// What the RTMP port gives a client before it has proved it holds a stream key (SPEC §17): a few seconds, a few
/// connections per address, and a log that never spells out a refused key. Over real TCP, beside a real ffmpeg.
/// </summary>
[Collection(FfmpegCollection.Name)]
public sealed class RtmpAdmissionServerTests
{
    private const int HandshakePacket = 1536;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Connects from <paramref name="from"/> and completes the RTMP handshake; null if the server closed first.</summary>
    private static async Task<Socket?> HandshakeAsync(int port, IPAddress? from = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (from is not null)
        {
            socket.Bind(new IPEndPoint(from, 0));
        }

        await socket.ConnectAsync(IPAddress.Loopback, port, Ct);
        var c0c1 = new byte[1 + HandshakePacket];
        c0c1[0] = 3;
        Random.Shared.NextBytes(c0c1.AsSpan(9));
        try
        {
            await socket.SendAsync(c0c1, SocketFlags.None, Ct);
            var s0s1s2 = new byte[1 + 2 * HandshakePacket];
            var read = 0;
            while (read < s0s1s2.Length)
            {
                var n = await socket.ReceiveAsync(s0s1s2.AsMemory(read), SocketFlags.None, Ct);
                if (n == 0)
                {
                    socket.Dispose();
                    return null;
                }

                read += n;
            }

            await socket.SendAsync(s0s1s2.AsMemory(1, HandshakePacket), SocketFlags.None, Ct); // C2 echoes S1
            return socket;
        }
        catch (SocketException)
        {
            socket.Dispose();
            return null; // reset: refused at once
        }
    }

    /// <summary>Whether the server has closed the socket (FIN or reset) within <paramref name="within"/>.</summary>
    private static async Task<bool> ClosedByServerAsync(Socket socket, TimeSpan within)
    {
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        timeout.CancelAfter(within);
        var buffer = new byte[4096];
        try
        {
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token) > 0)
            {
            }

            return true;
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException) when (!Ct.IsCancellationRequested)
        {
            return false;
        }
    }

    [Fact]
    public async Task A_connection_trickling_a_byte_a_second_is_closed_by_the_publish_deadline_while_a_publisher_is_unaffected()
    {
        await using var app = await LiveApp.StartAsync(Backend.Embedded);
        using var seller = await app.ClientAsAsync("seller-trickle", "seller");
        var (id, key) = await seller.CreateSessionAsync();
        var port = app.RtmpPort();
        await using var publisher = Ffmpeg.Publish(port, key, seconds: 25);
        await PasarApp.EventuallyAsync(() => Task.FromResult(app.Recorded(id).Count >= 1), TimeSpan.FromSeconds(30), "the publisher's first segment");
        var segmentsBefore = app.Recorded(id).Count;

        using var trickler = (await HandshakeAsync(port))!;
        Assert.NotNull(trickler);

        // One byte a second resets the 30 s idle timer every time; only the 10 s deadline from accept can end it.
        var receive = ClosedByServerAsync(trickler, TimeSpan.FromSeconds(60));
        for (var second = 0; second < 45 && !receive.IsCompleted; second++)
        {
            try
            {
                await trickler.SendAsync(new byte[] { 0x03 }, SocketFlags.None, Ct);
            }
            catch (SocketException)
            {
                break;
            }

            await Task.WhenAny(receive, Task.Delay(TimeSpan.FromSeconds(1), Ct));
        }

        Assert.True(await receive, "the trickling connection was still open after 45 s");

        // The publisher never noticed: segments kept coming and it finished cleanly, in one run.
        await PasarApp.EventuallyAsync(() => Task.FromResult(app.Recorded(id).Count >= segmentsBefore + 3), TimeSpan.FromSeconds(30), "segments during and after the trickle");
        var (exit, output) = await publisher.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(exit == 0, output);
        Assert.True(app.Recorded(id).All(s => s.Run == 1), "one run: the publisher was never dropped and its packaging never restarted");
    }

    [Fact]
    public async Task Connections_over_the_per_address_and_total_caps_are_closed_at_accept()
    {
        await using var app = await LiveApp.StartAsync(Backend.Embedded, s =>
        {
            s["Pasar:Rtmp:MaxConnections"] = "3";
            s["Pasar:Rtmp:MaxConnectionsPerAddress"] = "2";
            // Long enough that the held connections outlive a slow machine; the caps, not the timers, are tested.
            s["Pasar:Rtmp:PublishDeadlineSeconds"] = "120";
            s["Pasar:Rtmp:HandshakeTimeout"] = "00:02:00";
            s["Pasar:Rtmp:IdleTimeout"] = "00:02:00";
        });
        var port = app.RtmpPort();
        var gate = app.Services.GetRequiredService<RtmpConnectionGate>();

        using var a1 = await HandshakeAsync(port, IPAddress.Parse("127.0.0.1"));
        using var a2 = await HandshakeAsync(port, IPAddress.Parse("127.0.0.1"));
        Assert.NotNull(a1);
        Assert.NotNull(a2);

        // A third from the same address: closed before the handshake is answered.
        Assert.Null(await HandshakeAsync(port, IPAddress.Parse("127.0.0.1")));

        // Another address still gets in, up to the node's total; past it, nobody does.
        using var b1 = await HandshakeAsync(port, IPAddress.Parse("127.0.0.2"));
        Assert.NotNull(b1);
        Assert.Null(await HandshakeAsync(port, IPAddress.Parse("127.0.0.3")));
        Assert.Equal(3, gate.Open);
        Assert.Equal(2, gate.Addresses);

        // A connection that leaves gives its place back.
        a1!.Dispose();
        await PasarApp.EventuallyAsync(() => Task.FromResult(gate.Open == 2), TimeSpan.FromSeconds(10), "the closed connection to leave the gate");
        using var a3 = await HandshakeAsync(port, IPAddress.Parse("127.0.0.1"));
        Assert.NotNull(a3);
    }

    [Fact]
    public async Task A_refused_stream_key_is_logged_by_a_short_hash_and_never_in_full()
    {
        var logs = new LogCapture();
        await using var app = await PasarApp.StartAsync(Backend.Embedded, s => s["Logging:LogLevel:Pasar.Server.Live"] = "Information", logs.Register);
        using var seller = await app.ClientAsAsync("seller-key", "seller");
        var (_, realKey) = await seller.CreateSessionAsync();
        var wrongKey = realKey[..^4] + (realKey.EndsWith("AAAA", StringComparison.Ordinal) ? "BBBB" : "AAAA"); // a typo of the real one

        await using var publisher = Ffmpeg.Publish(app.RtmpPort(), wrongKey, seconds: 5);
        await PasarApp.EventuallyAsync(() => Task.FromResult(logs.Lines.Any(l => l.Text.Contains("refused", StringComparison.Ordinal))),
            TimeSpan.FromSeconds(30), "the refusal to be logged");
        await publisher.WaitAsync(TimeSpan.FromSeconds(30));

        var refusal = logs.Lines.First(l => l.Text.Contains("refused", StringComparison.Ordinal));
        Assert.Contains(Pasar.Rtmp.RtmpConnection.KeyFingerprint(wrongKey), refusal.Text, StringComparison.Ordinal);
        Assert.DoesNotContain(logs.Lines, l => l.Text.Contains(wrongKey, StringComparison.Ordinal) || l.Text.Contains(wrongKey[..12], StringComparison.Ordinal));
    }
}
