using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics;
using System.Net.Sockets;
using Pasar.Rtmp;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.Live;

/// <summary>
/// 10,000 random and truncated RTMP inputs over real TCP against the running server while a healthy ffmpeg publishes:
/// the server closes every one of them, the publisher is not disturbed, and memory comes back to where it was.
/// </summary>
[Collection(FfmpegCollection.Name)]
public sealed class RtmpFuzzTests
{
    private const int Connections = 10_000;
    private const int Parallel = 48;
    private const int HandshakePacket = 1536;

    [Fact]
    public async Task Ten_thousand_hostile_connections_are_all_closed_while_a_publisher_keeps_going_and_memory_stays_bounded()
    {
        // 48 hostile connections at once from one address: raise the RTMP caps so each one reaches the parser.
        await using var app = await LiveApp.StartAsync(Backend.Embedded, s => s["Pasar:Rtmp:MaxConnectionsPerAddress"] = "100");
        using var seller = await app.ClientAsAsync("seller-fuzz", "seller");
        var (id, key) = await seller.CreateSessionAsync();
        var port = app.RtmpPort();

        // Warm up: one hostile connection of each kind, then a baseline.
        var random = new Random(20261126);
        for (var i = 0; i < 50; i++)
        {
            await SendAndWaitForCloseAsync(port, Input(random, i));
        }

        var baseline = Memory();
        await using var publisher = Ffmpeg.Publish(port, key, seconds: 25);
        await PasarApp.EventuallyAsync(() => Task.FromResult(app.Recorded(id).Count >= 1), TimeSpan.FromSeconds(20), "the publisher's first segment");
        var segmentsBefore = app.Recorded(id).Count;

        var closed = 0;
        var hung = 0;
        var next = -1;
        var stopwatch = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, Parallel).Select(w => Task.Run(async () =>
        {
            var mine = new Random(w);
            int n;
            while ((n = Interlocked.Increment(ref next)) < Connections)
            {
                if (await SendAndWaitForCloseAsync(port, Input(mine, n)))
                {
                    Interlocked.Increment(ref closed);
                }
                else
                {
                    Interlocked.Increment(ref hung);
                }
            }
        })).ToArray();
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromMinutes(3), TestContext.Current.CancellationToken);
        stopwatch.Stop();

        Assert.Equal(0, hung);
        Assert.Equal(Connections, closed);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromMinutes(2), $"{Connections} connections took {stopwatch.Elapsed}");

        // The publisher never noticed: its segments kept coming, it finished with success.
        await PasarApp.EventuallyAsync(() => Task.FromResult(app.Recorded(id).Count >= segmentsBefore + 3), TimeSpan.FromSeconds(30), "segments during and after the fuzzing");
        var (exit, output) = await publisher.WaitAsync(TimeSpan.FromSeconds(60));
        Assert.True(exit == 0, output);
        Assert.True(app.Recorded(id).All(s => s.Run == 1), "one run: the publisher was never dropped and its packaging never restarted");

        var after = Memory();
        Assert.True(after.Managed - baseline.Managed < 32 << 20, $"managed heap grew from {baseline.Managed >> 20} MB to {after.Managed >> 20} MB");
        Assert.True(after.WorkingSet - baseline.WorkingSet < 256L << 20, $"working set grew from {baseline.WorkingSet >> 20} MB to {after.WorkingSet >> 20} MB");
    }

    private static (long Managed, long WorkingSet) Memory()
    {
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        using var process = Process.GetCurrentProcess();
        return (GC.GetTotalMemory(forceFullCollection: true), process.WorkingSet64);
    }

    /// <summary>Sends the input, half-closes, and waits for the server to close its side (FIN or reset). False if it hangs.</summary>
    private static async Task<bool> SendAndWaitForCloseAsync(int port, byte[] input)
    {
        using var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(20));
        try
        {
            await socket.ConnectAsync(System.Net.IPAddress.Loopback, port, timeout.Token);
            await socket.SendAsync(input, SocketFlags.None, timeout.Token);
            socket.Shutdown(SocketShutdown.Send);
            var buffer = new byte[8192];
            while (await socket.ReceiveAsync(buffer, SocketFlags.None, timeout.Token) > 0)
            {
            }

            return true;
        }
        catch (SocketException)
        {
            return true; // reset by the server: it closed with our bytes unread
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Five kinds of input: noise, a handshake then noise, a real publish truncated, a real publish with bytes flipped, hostile headers.</summary>
    private static byte[] Input(Random random, int n)
    {
        switch (n % 5)
        {
            case 0:
                return Noise(random, random.Next(0, 4000));
            case 1:
                return [.. Handshake(random), .. Noise(random, random.Next(0, 4000))];
            case 2:
                var session = PublishSession(random);
                return session[..random.Next(0, session.Length)];
            case 3:
                var mutated = PublishSession(random);
                for (var i = random.Next(1, 20); i > 0; i--)
                {
                    var at = random.Next(1 + 2 * HandshakePacket, mutated.Length);
                    mutated[at] = (byte)random.Next(256);
                }

                return mutated;
            default:
                // A message header that announces a huge message, or a chunk size far past the limit.
                var output = new ArrayBufferWriter<byte>();
                output.Write(Handshake(random));
                byte[] header = random.Next(2) == 0
                    ? [0x03, 0, 0, 0, 0xFF, 0xFF, 0xFF, 0x14, 0, 0, 0, 0]
                    : [0x02, 0, 0, 0, 0, 0, 4, 0x01, 0, 0, 0, 0];

                output.Write(header);
                Span<byte> size = stackalloc byte[4];
                BinaryPrimitives.WriteInt32BigEndian(size, random.Next());
                output.Write(size);
                output.Write(Noise(random, random.Next(0, 2000)));
                return output.WrittenSpan.ToArray();
        }
    }

    private static byte[] Noise(Random random, int length)
    {
        var bytes = new byte[length];
        random.NextBytes(bytes);
        return bytes;
    }

    private static byte[] Handshake(Random random)
    {
        var bytes = Noise(random, 1 + 2 * HandshakePacket);
        bytes[0] = 3;
        return bytes;
    }

    /// <summary>What ffmpeg sends to publish: handshake, connect, createStream, publish (an unknown key), a little media.</summary>
    private static byte[] PublishSession(Random random)
    {
        var output = new ArrayBufferWriter<byte>();
        output.Write(Handshake(random));
        Command(output, 0, "connect", 1, AmfValue.FromObject(
        [
            new("app", AmfValue.FromString("live")),
            new("type", AmfValue.FromString("nonprivate")),
            new("tcUrl", AmfValue.FromString("rtmp://127.0.0.1/live")),
        ]));
        Command(output, 0, "releaseStream", 2, AmfValue.Null, AmfValue.FromString("k"));
        Command(output, 0, "FCPublish", 3, AmfValue.Null, AmfValue.FromString("k"));
        Command(output, 0, "createStream", 4, AmfValue.Null);
        Command(output, 1, "publish", 5, AmfValue.Null, AmfValue.FromString("fuzz-" + random.Next()), AmfValue.FromString("live"));
        Message(output, 6, 9, 0, 1, [0x17, 0, 0, 0, 0, 1, 0x42, 0xC0, 0x1E, 0xFF, 0xE1, 0, 4, 0x67, 0x42, 0xC0, 0x1E, 1, 0, 2, 0x68, 0xCE]);
        Message(output, 4, 8, 0, 1, [0xAF, 0, 0x12, 0x10]);
        Message(output, 6, 9, 0, 1, [0x17, 1, 0, 0, 0, .. Noise(random, 300)]);
        return output.WrittenSpan.ToArray();
    }

    private static void Command(ArrayBufferWriter<byte> output, uint streamId, string name, double transaction, params AmfValue[] arguments)
    {
        var payload = new ArrayBufferWriter<byte>();
        Amf0Writer.WriteString(payload, name);
        Amf0Writer.WriteNumber(payload, transaction);
        foreach (var argument in arguments)
        {
            Amf0Writer.WriteValue(payload, argument);
        }

        Message(output, streamId == 0 ? 3 : 8, 20, 0, streamId, payload.WrittenSpan);
    }

    /// <summary>One message as type 0 then type 3 chunks of the default 128 bytes.</summary>
    private static void Message(ArrayBufferWriter<byte> output, int chunkStream, byte type, uint timestamp, uint streamId, ReadOnlySpan<byte> payload)
    {
        //  | fmt=0 csid | timestamp (3) | length (3) | type (1) | stream id (4, little endian) | then fmt=3 csid before each 128 bytes
        Span<byte> header = stackalloc byte[12];
        header[0] = (byte)chunkStream;
        header[1] = (byte)(timestamp >> 16);
        header[2] = (byte)(timestamp >> 8);
        header[3] = (byte)timestamp;
        header[4] = (byte)(payload.Length >> 16);
        header[5] = (byte)(payload.Length >> 8);
        header[6] = (byte)payload.Length;
        header[7] = type;
        BinaryPrimitives.WriteUInt32LittleEndian(header[8..], streamId);
        output.Write(header);
        for (var offset = 0; offset < payload.Length; offset += 128)
        {
            if (offset > 0)
            {
                output.Write([(byte)(0xC0 | chunkStream)]);
            }

            output.Write(payload.Slice(offset, Math.Min(128, payload.Length - offset)));
        }
    }
}
