using System.Buffers;
using System.Buffers.Binary;
using System.IO.Pipelines;

namespace Pasar.Rtmp.Tests.Support;

/// <summary>Writes what a publishing client sends (OBS and ffmpeg send the same sequence).</summary>
internal sealed class ClientWriter(IBufferWriter<byte> output)
{
    private readonly ChunkStreamWriter _chunks = new();

    public IBufferWriter<byte> Output { get; } = output;

    public static byte[] C0C1(int seed = 1)
    {
        var bytes = new byte[1 + RtmpHandshake.PacketSize];
        new Random(seed).NextBytes(bytes);
        bytes[0] = 3;
        bytes.AsSpan(1, 8).Clear();
        return bytes;
    }

    public void Raw(ReadOnlySpan<byte> bytes) => Output.Write(bytes);

    public void Message(int chunkStreamId, byte typeId, uint timestamp, uint streamId, ReadOnlySpan<byte> payload) =>
        _chunks.WriteMessage(Output, chunkStreamId, typeId, timestamp, streamId, payload);

    public void SetChunkSize(int size)
    {
        Span<byte> payload = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(payload, size);
        Message(2, RtmpMessageType.SetChunkSize, 0, 0, payload);
        _chunks.ChunkSize = size;
    }

    public void WindowAcknowledgementSize(int size)
    {
        Span<byte> payload = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(payload, size);
        Message(2, RtmpMessageType.WindowAcknowledgementSize, 0, 0, payload);
    }

    public void Command(uint streamId, string name, double transactionId, params AmfValue[] arguments)
    {
        var payload = new ArrayBufferWriter<byte>();
        Amf0Writer.WriteString(payload, name);
        Amf0Writer.WriteNumber(payload, transactionId);
        foreach (var argument in arguments)
        {
            Amf0Writer.WriteValue(payload, argument);
        }

        Message(streamId == 0 ? 3 : 8, RtmpMessageType.CommandAmf0, 0, streamId, payload.WrittenSpan);
    }

    public void Connect(string app = "live") => Command(0, "connect", 1, AmfValue.FromObject(
    [
        new("app", AmfValue.FromString(app)),
        new("type", AmfValue.FromString("nonprivate")),
        new("flashVer", AmfValue.FromString("FMLE/3.0 (compatible; FMSc/1.0)")),
        new("tcUrl", AmfValue.FromString($"rtmp://127.0.0.1:1935/{app}")),
    ]));

    public void PrePublish(string key)
    {
        Command(0, "releaseStream", 2, AmfValue.Null, AmfValue.FromString(key));
        Command(0, "FCPublish", 3, AmfValue.Null, AmfValue.FromString(key));
        Command(0, "createStream", 4, AmfValue.Null);
    }

    public void Publish(uint streamId, string key) => Command(streamId, "publish", 5, AmfValue.Null, AmfValue.FromString(key), AmfValue.FromString("live"));

    public void Metadata(uint streamId, int width, int height)
    {
        var payload = new ArrayBufferWriter<byte>();
        Amf0Writer.WriteString(payload, "@setDataFrame");
        Amf0Writer.WriteString(payload, "onMetaData");
        Amf0Writer.WriteValue(payload, AmfValue.FromEcmaArray(
        [
            new("width", AmfValue.FromNumber(width)),
            new("height", AmfValue.FromNumber(height)),
            new("framerate", AmfValue.FromNumber(30)),
            new("videocodecid", AmfValue.FromNumber(7)),
            new("videodatarate", AmfValue.FromNumber(2500)),
            new("audiocodecid", AmfValue.FromNumber(10)),
            new("audiodatarate", AmfValue.FromNumber(160)),
            new("audiosamplerate", AmfValue.FromNumber(44100)),
            new("stereo", AmfValue.FromBoolean(true)),
            new("encoder", AmfValue.FromString("Pasar test publisher")),
        ]));
        Message(4, RtmpMessageType.DataAmf0, 0, streamId, payload.WrittenSpan);
    }

    public void Video(uint streamId, uint timestamp, ReadOnlySpan<byte> payload) => Message(6, RtmpMessageType.Video, timestamp, streamId, payload);

    public void Audio(uint streamId, uint timestamp, ReadOnlySpan<byte> payload) => Message(4, RtmpMessageType.Audio, timestamp, streamId, payload);

    /// <summary>Everything a publisher sends for a short H.264 + AAC stream, in order.</summary>
    public void WholeSession(string key, int frames = 6, int keyframeSize = 6000)
    {
        Raw(C0C1());
        Raw(new byte[RtmpHandshake.PacketSize]); // C2
        SetChunkSize(4096);
        Connect();
        PrePublish(key);
        Publish(1, key);
        Metadata(1, 640, 360);
        Video(1, 0, TestMedia.VideoSequenceHeader(TestMedia.Sps(640, 360)));
        Audio(1, 0, TestMedia.AudioSequenceHeader());
        for (var i = 0; i < frames; i++)
        {
            var keyframe = i % 3 == 0;
            Video(1, (uint)(i * 33), TestMedia.VideoFrame(keyframe, keyframe ? keyframeSize : 800, 66));
            Audio(1, (uint)(i * 23), TestMedia.AudioFrame(200));
        }

        Command(0, "FCUnpublish", 6, AmfValue.Null, AmfValue.FromString(key));
        Command(0, "deleteStream", 7, AmfValue.Null, AmfValue.FromNumber(1));
    }

    public static byte[] WholeSessionBytes(string key, int frames = 6)
    {
        var output = new ArrayBufferWriter<byte>();
        new ClientWriter(output).WholeSession(key, frames);
        return output.WrittenSpan.ToArray();
    }
}

/// <summary>A publishing client over a duplex pipe that also reads the server's replies.</summary>
internal sealed class TestPublisher(IDuplexPipe transport) : IDisposable
{
    private readonly ChunkStreamReader _reader = new(new RtmpServerOptions());

    public ClientWriter Send { get; } = new(transport.Output);

    public PipeWriter Output => transport.Output;

    public void Dispose() => _reader.Dispose();

    public async Task FlushAsync() => await transport.Output.FlushAsync();

    public async Task HandshakeAsync()
    {
        var c0c1 = ClientWriter.C0C1();
        Send.Raw(c0c1);
        await FlushAsync();
        var s0s1s2 = await ReadExactlyAsync(1 + (2 * RtmpHandshake.PacketSize));
        Assert.Equal(3, s0s1s2[0]);
        Assert.Equal(c0c1.AsSpan(1).ToArray(), s0s1s2.AsSpan(1 + RtmpHandshake.PacketSize).ToArray());
        Send.Raw(s0s1s2.AsSpan(1, RtmpHandshake.PacketSize)); // C2 echoes S1
        await FlushAsync();
    }

    public async Task<RtmpCommand> ConnectAsync(string app = "live")
    {
        Send.Connect(app);
        await FlushAsync();
        return await ReceiveCommandAsync(c => c.Name is "_result" or "_error");
    }

    public async Task<RtmpCommand> PublishAsync(string key)
    {
        Send.PrePublish(key);
        await FlushAsync();
        var created = await ReceiveCommandAsync(c => c.Name == "_result" && c.TransactionId == 4);
        var streamId = (uint)created.Argument(0).Number;
        Assert.Equal(1u, streamId);
        Send.Publish(streamId, key);
        await FlushAsync();
        return await ReceiveCommandAsync(c => c.Name == "onStatus");
    }

    public async Task<ReadMessage> ReceiveAsync(Func<ReadMessage, bool>? predicate = null)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            var result = await transport.Input.ReadAsync(timeout.Token);
            var buffer = result.Buffer;
            var reader = new SequenceReader<byte>(buffer);
            ReadMessage? found = null;
            while (found is null && _reader.TryReadMessage(ref reader, out var message))
            {
                var copy = new ReadMessage(message.ChunkStreamId, message.Timestamp, message.TypeId, message.StreamId, message.Payload.ToArray());
                if (predicate is null || predicate(copy))
                {
                    found = copy;
                }
            }

            if (found is not null)
            {
                // Leave what follows unexamined so the next call parses it without waiting for more bytes.
                transport.Input.AdvanceTo(reader.Position);
                return found;
            }

            transport.Input.AdvanceTo(reader.Position, buffer.End);

            if (result.IsCompleted)
            {
                throw new EndOfStreamException("The server closed the connection.");
            }
        }
    }

    public async Task<RtmpCommand> ReceiveCommandAsync(Func<RtmpCommand, bool> predicate)
    {
        while (true)
        {
            var message = await ReceiveAsync(m => m.TypeId == RtmpMessageType.CommandAmf0);
            var command = RtmpCommand.Parse(message.Payload, 16);
            if (predicate(command))
            {
                return command;
            }
        }
    }

    /// <summary>True when the server has closed its side (after draining anything it sent).</summary>
    public async Task<bool> ServerClosedAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            var result = await transport.Input.ReadAsync(timeout.Token);
            transport.Input.AdvanceTo(result.Buffer.End);
            if (result.IsCompleted)
            {
                return true;
            }
        }
    }

    private async Task<byte[]> ReadExactlyAsync(int count)
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (true)
        {
            var result = await transport.Input.ReadAsync(timeout.Token);
            if (result.Buffer.Length >= count)
            {
                var bytes = result.Buffer.Slice(0, count).ToArray();
                transport.Input.AdvanceTo(result.Buffer.GetPosition(count));
                return bytes;
            }

            transport.Input.AdvanceTo(result.Buffer.Start, result.Buffer.End);
            if (result.IsCompleted)
            {
                throw new EndOfStreamException();
            }
        }
    }
}
