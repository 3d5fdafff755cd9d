using System.Buffers.Binary;
using Microsoft.Extensions.Time.Testing;
using Pasar.Rtmp.Tests.Support;

namespace Pasar.Rtmp.Tests;

public sealed class RtmpConnectionTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static (RtmpConnection Connection, Task<RtmpConnectionResult> Run, TestPublisher Client) Start(
        RecordingHost host, RtmpServerOptions? options = null, TimeProvider? time = null)
    {
        var transport = new InMemoryTransport();
        var connection = new RtmpConnection(transport.Server, host, host, options, time, "test-connection");
        var run = connection.RunAsync(Ct);
        return (connection, run, new TestPublisher(transport.Client));
    }

    /// <summary>A connection whose client has shaken hands, connected and started publishing "KEY".</summary>
    private static async Task<(RtmpConnection Connection, Task<RtmpConnectionResult> Run, TestPublisher Client)> StartPublishingAsync(
        RecordingHost host, TimeProvider? time = null)
    {
        var (connection, run, client) = Start(host, time: time);
        await client.HandshakeAsync();
        await client.ConnectAsync();
        await client.PublishAsync("KEY");
        return (connection, run, client);
    }

    [Fact]
    public async Task Publisher_goes_from_connect_to_media_to_unpublish()
    {
        var host = new RecordingHost();
        var (_, run, client) = Start(host);
        using var _ = client;

        await client.HandshakeAsync();
        client.Send.SetChunkSize(4096);
        var connected = await client.ConnectAsync();
        Assert.Equal("_result", connected.Name);
        Assert.Equal("NetConnection.Connect.Success", connected.Argument(0)["code"]!.String);

        var status = await client.PublishAsync("KEY?token=abc");
        Assert.Equal("status", status.Argument(0)["level"]!.String);
        Assert.Equal("NetStream.Publish.Start", status.Argument(0)["code"]!.String);

        client.Send.Metadata(1, 640, 360);
        client.Send.Video(1, 0, TestMedia.VideoSequenceHeader(TestMedia.Sps(640, 360)));
        client.Send.Audio(1, 0, TestMedia.AudioSequenceHeader());
        client.Send.Video(1, 0, TestMedia.VideoFrame(keyframe: true, size: 20_000, compositionTime: 66));
        client.Send.Audio(1, 23, TestMedia.AudioFrame(300));
        client.Send.Video(1, 33, TestMedia.VideoFrame(keyframe: false, size: 900));
        client.Send.Command(0, "FCUnpublish", 6, AmfValue.Null, AmfValue.FromString("KEY"));
        client.Send.Command(0, "deleteStream", 7, AmfValue.Null, AmfValue.FromNumber(1));
        await client.FlushAsync();
        Assert.Equal(RtmpEndReason.Unpublished, await host.Ended.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct));
        await client.Output.CompleteAsync();

        var result = await run.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(RtmpEndReason.ClientDisconnected, result.Reason);

        var request = Assert.Single(host.Requests);
        Assert.Equal("KEY", request.StreamKey);
        Assert.Equal("live", request.App);
        Assert.Equal("live", request.PublishType);
        Assert.Equal("rtmp://127.0.0.1:1935/live", request.TcUrl);
        Assert.Equal(
            ["authorize KEY", "start KEY", "metadata", "video", "audio", "video", "audio", "video", "end Unpublished"],
            host.Events);

        var metadata = Assert.Single(host.Metadata);
        Assert.Equal((640, 360, 30d, 7d, 10d, 2), (metadata.Width, metadata.Height, metadata.FrameRate, metadata.VideoCodecId, metadata.AudioCodecId, metadata.AudioChannels));
        Assert.Equal("Pasar test publisher", metadata.Encoder);

        var context = host.Context!;
        Assert.Equal("session-1", context.State);
        Assert.Equal("avc1.64001E", context.Video!.Codecs);
        Assert.Equal((640, 360, 30d), (context.Video.Width, context.Video.Height, context.Video.Sps!.FrameRate));
        Assert.Equal("mp4a.40.2", context.Audio!.Codecs);
        Assert.Equal((44100, 2), (context.Audio.SampleRate, context.Audio.ChannelConfiguration));
        Assert.Equal(1, context.Keyframes);

        var media = host.Media;
        Assert.True(media[0].IsSequenceHeader && !media[0].IsKeyframe);
        Assert.True(media[1].IsSequenceHeader);
        Assert.True(media[2].IsKeyframe);
        Assert.Equal(66, media[2].CompositionTimeOffset);
        Assert.Equal(20_000 + 9, media[2].Payload.Length);
        Assert.Equal(TestMedia.VideoFrame(true, 20_000, 66), media[2].Payload);
        Assert.Equal(33u, media[4].Timestamp);
        Assert.False(media[4].IsKeyframe);
    }

    [Fact]
    public async Task Server_announces_window_bandwidth_and_chunk_size_after_connect()
    {
        var host = new RecordingHost();
        var (_, _, client) = Start(host);
        using var _ = client;
        await client.HandshakeAsync();
        client.Send.Connect();
        await client.FlushAsync();

        var window = await client.ReceiveAsync(m => m.TypeId == RtmpMessageType.WindowAcknowledgementSize);
        var bandwidth = await client.ReceiveAsync(m => m.TypeId == RtmpMessageType.SetPeerBandwidth);
        var chunkSize = await client.ReceiveAsync(m => m.TypeId == RtmpMessageType.SetChunkSize);
        Assert.Equal(2_500_000u, BinaryPrimitives.ReadUInt32BigEndian(window.Payload));
        Assert.Equal(2_500_000u, BinaryPrimitives.ReadUInt32BigEndian(bandwidth.Payload));
        Assert.Equal(2, bandwidth.Payload[4]);
        Assert.Equal(4096u, BinaryPrimitives.ReadUInt32BigEndian(chunkSize.Payload));
    }

    [Fact]
    public async Task Server_acknowledges_each_window_the_client_asks_for()
    {
        var host = new RecordingHost();
        var (_, _, client) = Start(host);
        using var _ = client;
        await client.HandshakeAsync();
        client.Send.WindowAcknowledgementSize(5000);
        await client.ConnectAsync();
        await client.PublishAsync("KEY");
        for (var i = 0; i < 10; i++)
        {
            client.Send.Audio(1, (uint)i, TestMedia.AudioFrame(1000));
            await client.FlushAsync();
        }

        var ack = await client.ReceiveAsync(m => m.TypeId == RtmpMessageType.Acknowledgement);
        Assert.InRange(BinaryPrimitives.ReadUInt32BigEndian(ack.Payload), 5000u, 20_000u);
    }

    [Fact]
    public async Task Wrong_application_is_rejected_before_any_stream_exists()
    {
        var host = new RecordingHost();
        var (_, run, client) = Start(host);
        using var _ = client;
        await client.HandshakeAsync();

        var reply = await client.ConnectAsync("vod");
        Assert.Equal("_error", reply.Name);
        Assert.Equal("NetConnection.Connect.Rejected", reply.Argument(0)["code"]!.String);
        Assert.Contains("rtmp://<host>/live", reply.Argument(0)["description"]!.String, StringComparison.Ordinal);
        Assert.Equal(RtmpEndReason.ConnectRejected, (await run.WaitAsync(TimeSpan.FromSeconds(10), Ct)).Reason);
        Assert.Empty(host.Requests);
        Assert.True(await client.ServerClosedAsync());
    }

    [Fact]
    public async Task Wrong_key_gets_an_error_status_instead_of_publish_start_and_no_media_reaches_the_handler()
    {
        var host = new RecordingHost(acceptedKey: "KEY");
        var (_, run, client) = Start(host);
        using var _ = client;
        await client.HandshakeAsync();
        await client.ConnectAsync();

        var status = await client.PublishAsync("WRONG");
        Assert.Equal("error", status.Argument(0)["level"]!.String);
        Assert.Equal("NetStream.Publish.BadName", status.Argument(0)["code"]!.String);
        Assert.Equal("Unknown stream key 'WRONG'.", status.Argument(0)["description"]!.String);

        client.Send.Video(1, 0, TestMedia.VideoSequenceHeader(TestMedia.Sps(640, 360)));
        await client.FlushAsync();
        var result = await run.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(RtmpEndReason.PublishRejected, result.Reason);
        Assert.Equal(["authorize WRONG"], host.Events);
        Assert.True(await client.ServerClosedAsync());
    }

    [Theory]
    [InlineData(RtmpMessageType.Video, new byte[] { 0x14, 0x00, 0x01 }, "On2 VP6 video")]
    [InlineData(RtmpMessageType.Video, new byte[] { 0x1C, 0x00, 0x00, 0x00, 0x00 }, "HEVC video (non-standard FLV codec id 12)")]
    [InlineData(RtmpMessageType.Video, new byte[] { 0x90, (byte)'h', (byte)'v', (byte)'c', (byte)'1' }, "enhanced RTMP video (hvc1)")]
    [InlineData(RtmpMessageType.Audio, new byte[] { 0x2F, 0xFF, 0xFB }, "MP3 audio")]
    [InlineData(RtmpMessageType.Audio, new byte[] { 0xB6, 0x00 }, "Speex audio")]
    public async Task Other_codecs_get_a_clear_rejection_and_the_connection_closes(byte typeId, byte[] payload, string codec)
    {
        var host = new RecordingHost();
        var (_, run, client) = await StartPublishingAsync(host);
        using var _ = client;

        client.Send.Message(6, typeId, 0, 1, payload);
        await client.FlushAsync();
        var status = await client.ReceiveCommandAsync(c => c.Name == "onStatus");
        Assert.Equal("error", status.Argument(0)["level"]!.String);
        Assert.Equal($"Pasar accepts H.264 video and AAC audio; got {codec}.", status.Argument(0)["description"]!.String);

        var result = await run.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(RtmpEndReason.UnsupportedCodec, result.Reason);
        Assert.Equal(RtmpEndReason.UnsupportedCodec, await host.Ended.Task);
        Assert.Empty(host.Media);
    }

    [Fact]
    public async Task Commands_before_connect_are_a_protocol_error()
    {
        var host = new RecordingHost();
        var (_, run, client) = Start(host);
        using var _ = client;
        await client.HandshakeAsync();
        client.Send.Publish(1, "KEY");
        await client.FlushAsync();

        var result = await run.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(RtmpEndReason.ProtocolError, result.Reason);
        Assert.Equal(RtmpErrorCode.UnexpectedCommand, result.Error!.Code);
        Assert.Empty(host.Requests);
    }

    [Fact]
    public async Task Encrypted_rtmp_is_refused_at_the_first_byte()
    {
        var host = new RecordingHost();
        var (_, run, client) = Start(host);
        using var _ = client;
        client.Send.Raw([6]);
        await client.FlushAsync();

        var result = await run.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(RtmpErrorCode.UnsupportedVersion, result.Error!.Code);
    }

    [Fact]
    public async Task Handshake_that_never_completes_times_out()
    {
        var time = new FakeTimeProvider();
        var host = new RecordingHost();
        var (_, run, client) = Start(host, time: time);
        using var _ = client;
        client.Send.Raw(ClientWriter.C0C1().AsSpan(0, 100)); // a slow-loris C1
        await client.FlushAsync();

        time.Advance(TimeSpan.FromSeconds(9));
        Assert.False(run.IsCompleted);
        time.Advance(TimeSpan.FromSeconds(2));
        var result = await run.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(RtmpEndReason.HandshakeTimeout, result.Reason);
    }

    [Fact]
    public async Task Silent_publisher_is_closed_after_the_idle_timeout_and_the_publish_ends()
    {
        var time = new FakeTimeProvider();
        var host = new RecordingHost();
        var (_, run, client) = await StartPublishingAsync(host, time);
        using var _ = client;

        // The server re-arms the idle timer whenever it waits for data; step the clock until it fires.
        for (var i = 0; i < 400 && !run.IsCompleted; i++)
        {
            time.Advance(TimeSpan.FromSeconds(1));
            await Task.Delay(5, Ct);
        }

        var result = await run.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(RtmpEndReason.IdleTimeout, result.Reason);
        Assert.Equal(RtmpEndReason.IdleTimeout, await host.Ended.Task);
    }

    [Fact]
    public async Task Host_can_close_a_publishing_connection_for_a_takeover()
    {
        var host = new RecordingHost();
        var (connection, run, client) = await StartPublishingAsync(host);
        using var _ = client;
        var context = await host.Started.Task;
        Assert.Same(connection, context.Connection);
        Assert.Same(context, connection.CurrentPublish);

        var result = await context.Connection.CloseAsync().WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(RtmpEndReason.ClosedByHost, result.Reason);
        Assert.Equal(RtmpEndReason.ClosedByHost, await host.Ended.Task);
        Assert.Same(result, await run);
        Assert.True(await client.ServerClosedAsync());
    }

    [Fact]
    public async Task Cancelling_the_run_token_closes_the_connection()
    {
        using var cts = new CancellationTokenSource();
        var transport = new InMemoryTransport();
        var host = new RecordingHost();
        await using var connection = new RtmpConnection(transport.Server, host, host);
        var run = connection.RunAsync(cts.Token);
        await cts.CancelAsync();
        Assert.Equal(RtmpEndReason.ClosedByHost, (await run.WaitAsync(TimeSpan.FromSeconds(10), Ct)).Reason);
    }

    [Fact]
    public async Task A_handler_that_throws_ends_the_publish_and_the_exception_reaches_the_host()
    {
        var host = new RecordingHost { OnMedia = _ => throw new InvalidOperationException("transcoder gone") };
        var (connection, run, client) = await StartPublishingAsync(host);
        using var _ = client;
        client.Send.Audio(1, 0, TestMedia.AudioSequenceHeader());
        await client.FlushAsync();

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => run.WaitAsync(TimeSpan.FromSeconds(10), Ct));
        Assert.Equal("transcoder gone", error.Message);
        Assert.Equal(RtmpEndReason.HostError, await host.Ended.Task);
        Assert.Equal(RtmpEndReason.HostError, (await connection.Completion).Reason);
    }

    [Fact]
    public async Task Ping_request_gets_a_ping_response()
    {
        var host = new RecordingHost();
        var (_, _, client) = Start(host);
        using var _ = client;
        await client.HandshakeAsync();
        client.Send.Message(2, RtmpMessageType.UserControl, 0, 0, [0, 6, 0, 0, 0x12, 0x34]);
        await client.FlushAsync();
        var pong = await client.ReceiveAsync(m => m.TypeId == RtmpMessageType.UserControl);
        Assert.Equal(new byte[] { 0, 7, 0, 0, 0x12, 0x34 }, pong.Payload);
    }

    [Fact]
    public async Task A_handler_io_failure_is_reported_as_a_host_error_not_a_lost_client()
    {
        var host = new RecordingHost { OnMedia = _ => throw new IOException("Broken pipe") };
        var (connection, run, client) = await StartPublishingAsync(host);
        using var _ = client;
        client.Send.Audio(1, 0, TestMedia.AudioSequenceHeader());
        await client.FlushAsync();

        await Assert.ThrowsAsync<IOException>(() => run.WaitAsync(TimeSpan.FromSeconds(10), Ct));
        Assert.Equal(RtmpEndReason.HostError, (await connection.Completion).Reason);
    }

    [Fact]
    public async Task Aggregate_messages_are_split_into_their_media_messages()
    {
        var host = new RecordingHost();
        var (_, _, client) = await StartPublishingAsync(host);
        using var _ = client;

        var aggregate = new System.Buffers.ArrayBufferWriter<byte>();
        FlvWriter.WriteTag(aggregate, FlvTagType.Audio, 5000, TestMedia.AudioSequenceHeader());
        FlvWriter.WriteTag(aggregate, FlvTagType.Audio, 5023, TestMedia.AudioFrame(50));
        client.Send.Message(4, RtmpMessageType.Aggregate, 100, 1, aggregate.WrittenSpan);
        client.Send.Audio(1, 200, TestMedia.AudioFrame(10));
        await client.FlushAsync();

        for (var i = 0; i < 200 && host.Media.Count < 3; i++)
        {
            await Task.Delay(10, Ct);
        }

        Assert.Equal([100u, 123u, 200u], host.Media.Select(m => m.Timestamp));
        Assert.True(host.Media[0].IsSequenceHeader);
        Assert.Equal("mp4a.40.2", host.Context!.Audio!.Codecs);
    }

    [Fact]
    public async Task A_slow_authorizer_is_refused_after_the_authorization_timeout()
    {
        var time = new FakeTimeProvider();
        var authorizer = new HangingAuthorizer();
        var host = new RecordingHost();
        var transport = new InMemoryTransport();
        await using var connection = new RtmpConnection(transport.Server, authorizer, host, timeProvider: time);
        var run = connection.RunAsync(Ct);
        using var client = new TestPublisher(transport.Client);
        await client.HandshakeAsync();
        await client.ConnectAsync();
        client.Send.PrePublish("KEY");
        await client.FlushAsync();
        await client.ReceiveCommandAsync(c => c.Name == "_result" && c.TransactionId == 4);
        client.Send.Publish(1, "KEY");
        await client.FlushAsync();
        await authorizer.Called.Task.WaitAsync(TimeSpan.FromSeconds(10), Ct);

        time.Advance(TimeSpan.FromSeconds(11));
        var status = await client.ReceiveCommandAsync(c => c.Name == "onStatus");
        Assert.Equal("NetStream.Publish.Failed", status.Argument(0)["code"]!.String);
        Assert.Equal(RtmpEndReason.PublishRejected, (await run.WaitAsync(TimeSpan.FromSeconds(10), Ct)).Reason);
        Assert.Null(host.Context);
    }

    private sealed class HangingAuthorizer : IRtmpPublishAuthorizer
    {
        public TaskCompletionSource Called { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public async ValueTask<RtmpPublishDecision> AuthorizeAsync(RtmpPublishRequest request, CancellationToken cancellationToken)
        {
            Called.TrySetResult();
            await Task.Delay(Timeout.Infinite, cancellationToken);
            return RtmpPublishDecision.Accept();
        }
    }

    public static TheoryData<string, RtmpErrorCode> HostileInputs => new()
    {
        { "deep-connect", RtmpErrorCode.AmfTooDeep },
        { "huge-video", RtmpErrorCode.MessageTooLarge },
        { "huge-chunk-size", RtmpErrorCode.ChunkSizeTooLarge },
        { "many-chunk-streams", RtmpErrorCode.TooManyChunkStreams },
    };

    [Theory]
    [MemberData(nameof(HostileInputs))]
    public async Task Hostile_input_ends_the_connection_with_the_limit_it_broke(string attack, RtmpErrorCode expected)
    {
        var host = new RecordingHost();
        var (connection, run, client) = Start(host);
        using var _ = client;
        await client.HandshakeAsync();
        switch (attack)
        {
            case "deep-connect":
                var nested = AmfValue.FromString("live");
                for (var i = 0; i < 100; i++)
                {
                    nested = AmfValue.FromObject([new("app", nested)]);
                }

                client.Send.Command(0, "connect", 1, nested);
                break;
            case "huge-video":
                client.Send.Raw(new ChunkBuilder().Type0(6, 0, 0xFFFFFF, RtmpMessageType.Video, 1).ToArray());
                break;
            case "huge-chunk-size":
                client.Send.SetChunkSize(1 << 20);
                break;
            default:
                for (var id = 3; id < 200; id++)
                {
                    client.Send.Message(id, RtmpMessageType.Acknowledgement, 0, 0, [0, 0, 0, 1]);
                }

                break;
        }

        await client.FlushAsync();
        var result = await run.WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(RtmpEndReason.ProtocolError, result.Reason);
        Assert.Equal(expected, result.Error!.Code);
        Assert.True(connection.PeakPendingBytes < 64 * 1024);
        Assert.True(await client.ServerClosedAsync());
    }
}

