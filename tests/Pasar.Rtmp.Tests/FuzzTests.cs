using Microsoft.Extensions.Time.Testing;
using Pasar.Rtmp.Tests.Support;

namespace Pasar.Rtmp.Tests;

/// <summary>
/// Seeded random input into the whole connection driver: whatever arrives, the connection ends with a reason
/// (never an unexpected exception), the handler sees a start/end pair or nothing, and buffering stays within limits.
/// </summary>
public sealed class FuzzTests
{
    private static readonly RtmpServerOptions Tight = new()
    {
        MaxMessageSize = 64 * 1024,
        MaxPendingMessageBytes = 96 * 1024,
        MaxAmfMessageSize = 4096,
        MaxIncomingChunkSize = 8192,
        MaxChunkStreams = 8,
        MaxAmfDepth = 4,
    };

    private static readonly byte[] Handshake = [.. ClientWriter.C0C1(), .. new byte[RtmpHandshake.PacketSize]];

    private static async Task<RtmpConnectionResult> RunAsync(byte[] input, Random random, RtmpServerOptions? options = null)
    {
        options ??= new RtmpServerOptions();
        var transport = new InMemoryTransport();
        var host = new RecordingHost(acceptedKey: null);
        await using var connection = new RtmpConnection(transport.Server, host, host, options, new FakeTimeProvider());
        var run = connection.RunAsync(TestContext.Current.CancellationToken);

        // Deliver in a few random pieces so chunk boundaries land anywhere.
        var offset = 0;
        while (offset < input.Length && !run.IsCompleted)
        {
            var size = Math.Min(input.Length - offset, random.Next(1, Math.Max(2, input.Length / 3)));
            await transport.ClientToServer.Writer.WriteAsync(input.AsMemory(offset, size), TestContext.Current.CancellationToken);
            offset += size;
        }

        await transport.ClientToServer.Writer.CompleteAsync();
        var result = await run.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);

        Assert.NotEqual(RtmpEndReason.HostError, result.Reason);
        Assert.Equal(result.Reason == RtmpEndReason.ProtocolError, result.Error is not null);
        Assert.InRange(connection.PeakPendingBytes, 0, options.MaxPendingMessageBytes);
        var events = host.Events;
        Assert.Equal(events.Count(e => e.StartsWith("start", StringComparison.Ordinal)), events.Count(e => e.StartsWith("end", StringComparison.Ordinal)));
        return result;
    }

    [Fact]
    public async Task Random_bytes_after_a_valid_handshake_end_the_connection_cleanly()
    {
        var random = new Random(20240601);
        for (var i = 0; i < 1500; i++)
        {
            var noise = new byte[random.Next(0, 3000)];
            random.NextBytes(noise);
            await RunAsync([.. Handshake, .. noise], random, i % 2 == 0 ? Tight : null);
        }
    }

    [Fact]
    public async Task Random_bytes_from_the_first_byte_end_the_connection_cleanly()
    {
        var random = new Random(7);
        for (var i = 0; i < 300; i++)
        {
            var noise = new byte[random.Next(0, 5000)];
            random.NextBytes(noise);
            if (noise.Length > 0 && i % 2 == 0)
            {
                noise[0] = 3;
            }

            await RunAsync(noise, random);
        }
    }

    [Fact]
    public async Task Truncated_sessions_end_cleanly_at_every_kind_of_cut()
    {
        var session = ClientWriter.WholeSessionBytes("KEY");
        var random = new Random(42);
        for (var i = 0; i < 1000; i++)
        {
            var length = random.Next(0, session.Length + 1);
            var result = await RunAsync(session[..length], random);
            Assert.Equal(RtmpEndReason.ClientDisconnected, result.Reason);
        }

        var whole = await RunAsync(session, random);
        Assert.Equal(RtmpEndReason.ClientDisconnected, whole.Reason);
    }

    [Fact]
    public async Task Mutated_sessions_end_with_a_reason_and_stay_within_limits()
    {
        var session = ClientWriter.WholeSessionBytes("KEY");
        var random = new Random(1234);
        var reasons = new Dictionary<RtmpEndReason, int>();
        for (var i = 0; i < 1500; i++)
        {
            var mutated = (byte[])session.Clone();
            var flips = random.Next(1, 9);
            for (var f = 0; f < flips; f++)
            {
                // Mostly after the handshake, where the interesting parsing happens.
                var position = random.Next(10) == 0 ? random.Next(mutated.Length) : random.Next(Handshake.Length, mutated.Length);
                mutated[position] = random.Next(3) switch
                {
                    0 => (byte)random.Next(256),
                    1 => 0xFF,
                    _ => (byte)(mutated[position] ^ (1 << random.Next(8))),
                };
            }

            var result = await RunAsync(mutated, random, i % 3 == 0 ? Tight : null);
            reasons[result.Reason] = reasons.GetValueOrDefault(result.Reason) + 1;
        }

        // The mutations reach deep enough to hit both clean ends and protocol errors.
        Assert.True(reasons.GetValueOrDefault(RtmpEndReason.ProtocolError) > 50, string.Join(", ", reasons));
        Assert.True(reasons.GetValueOrDefault(RtmpEndReason.ClientDisconnected) > 50, string.Join(", ", reasons));
    }
}
