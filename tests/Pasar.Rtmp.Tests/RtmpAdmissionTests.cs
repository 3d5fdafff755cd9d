using Microsoft.Extensions.Time.Testing;
using Pasar.Rtmp.Tests.Support;

namespace Pasar.Rtmp.Tests;

/// <summary>What a connection may do before it has proved it holds a stream key: little, briefly, and without media.</summary>
public sealed class RtmpAdmissionTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static (RtmpConnection Connection, Task<RtmpConnectionResult> Run, TestPublisher Client) Start(
        RecordingHost host, RtmpServerOptions? options = null, TimeProvider? time = null)
    {
        var transport = new InMemoryTransport();
        var connection = new RtmpConnection(transport.Server, host, host, options, time, "admission-test");
        var run = connection.RunAsync(Ct);
        return (connection, run, new TestPublisher(transport.Client));
    }

    [Fact]
    public async Task A_peer_trickling_a_byte_a_second_after_the_handshake_is_closed_at_the_publish_deadline()
    {
        var time = new FakeTimeProvider();
        var host = new RecordingHost();
        var (_, run, client) = Start(host, time: time);
        using var _ = client;
        await client.HandshakeAsync();

        // A valid connect command, one byte a second: every byte restarts the idle timer, never the deadline.
        var connect = new ArrayBufferWriterClient();
        connect.Writer.Connect();
        var bytes = connect.ToArray();
        var sent = 0;
        for (var second = 1; second <= 30 && !run.IsCompleted; second++)
        {
            client.Send.Raw(bytes.AsSpan(sent % bytes.Length, 1));
            sent++;
            await client.FlushAsync();
            await Task.Delay(5, Ct);
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(5, Ct);
            if (second < 9)
            {
                Assert.False(run.IsCompleted, $"closed after only {second} s");
            }
        }

        var result = await run.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(RtmpEndReason.PublishDeadline, result.Reason);
        Assert.Empty(host.Events);
        Assert.True(await client.ServerClosedAsync());
    }

    [Fact]
    public async Task A_publisher_that_publishes_in_time_outlives_the_deadline()
    {
        var time = new FakeTimeProvider();
        var host = new RecordingHost();
        var (connection, run, client) = Start(host, time: time);
        using var _ = client;
        await client.HandshakeAsync();
        await client.ConnectAsync();
        await client.PublishAsync("KEY");

        // Well past the deadline, with media every second: still publishing.
        for (var second = 0; second < 20; second++)
        {
            client.Send.Video(1, (uint)(second * 1000), TestMedia.VideoFrame(keyframe: false, size: 200));
            await client.FlushAsync();
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(5, Ct);
        }

        Assert.False(run.IsCompleted);
        Assert.NotNull(connection.CurrentPublish);
        await connection.CloseAsync();
    }

    [Fact]
    public async Task Media_before_an_authorised_publish_is_refused_at_its_header_and_never_buffered()
    {
        var host = new RecordingHost();
        var (connection, run, client) = Start(host);
        using var _ = client;
        await client.HandshakeAsync();
        await client.ConnectAsync();

        // A 1 MiB video message announced before any publish: refused before a byte of it is held.
        client.Send.Raw(new ChunkBuilder().Type0(6, 0, 1024 * 1024, RtmpMessageType.Video, 1).ToArray());
        await client.FlushAsync();
        var result = await run.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(RtmpEndReason.ProtocolError, result.Reason);
        Assert.Equal(RtmpErrorCode.MediaBeforePublish, result.Error!.Code);
        Assert.InRange(connection.PeakPendingBytes, 0, 1024); // the connect command, nothing of the video
        Assert.Empty(host.Media);
    }

    [Fact]
    public async Task Before_publish_at_most_one_command_is_buffered()
    {
        var options = new RtmpServerOptions();
        var host = new RecordingHost();
        var (connection, run, client) = Start(host, options);
        using var _ = client;
        await client.HandshakeAsync();
        await client.ConnectAsync();

        // Partial AMF messages on many chunk streams: together they may not exceed one command's size.
        for (var id = 10; id < 20; id++)
        {
            var builder = new ChunkBuilder().Type0(id, 0, options.MaxAmfMessageSize, RtmpMessageType.DataAmf0, 1);
            client.Send.Raw(builder.ToArray());
            client.Send.Raw(new byte[128]);
        }

        client.Send.SetChunkSize(64 * 1024);
        await client.FlushAsync();
        var result = await run.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(RtmpEndReason.ProtocolError, result.Reason);
        Assert.Equal(RtmpErrorCode.TooMuchPendingData, result.Error!.Code);
        Assert.InRange(connection.PeakPendingBytes, 0, options.MaxAmfMessageSize);
    }

    [Fact]
    public async Task A_refused_key_is_named_by_a_short_hash_not_in_full()
    {
        const string key = "sk_live_4f9a1c2e7b3d4e5f6a7b8c9d";
        var host = new RecordingHost(acceptedKey: "KEY");
        var (_, run, client) = Start(host);
        using var _ = client;
        await client.HandshakeAsync();
        await client.ConnectAsync();
        await client.PublishAsync(key);

        var result = await run.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(RtmpEndReason.PublishRejected, result.Reason);
        Assert.DoesNotContain(key, result.Message, StringComparison.Ordinal);
        Assert.DoesNotContain(key[..12], result.Message, StringComparison.Ordinal);
        Assert.Contains(RtmpConnection.KeyFingerprint(key), result.Message, StringComparison.Ordinal);
        Assert.Matches("^#[0-9a-f]{8}$", RtmpConnection.KeyFingerprint(key));
    }

    /// <summary>Collects what a <see cref="ClientWriter"/> would send, to replay it byte by byte.</summary>
    private sealed class ArrayBufferWriterClient
    {
        private readonly System.Buffers.ArrayBufferWriter<byte> _buffer = new();

        public ArrayBufferWriterClient() => Writer = new ClientWriter(_buffer);

        public ClientWriter Writer { get; }

        public byte[] ToArray() => _buffer.WrittenSpan.ToArray();
    }
}
