using System.Buffers;
using System.IO.Pipelines;
using Pasar.Rtmp.Tests.Support;

namespace Pasar.Rtmp.Tests;

public sealed class FlvAndHandshakeTests
{
    [Fact]
    public void Flv_tags_round_trip_with_extended_timestamps_and_every_split()
    {
        var output = new ArrayBufferWriter<byte>();
        FlvWriter.WriteHeader(output, hasAudio: true, hasVideo: true);
        FlvWriter.WriteTag(output, FlvTagType.ScriptData, 0, [2, 0, 10, .. "onMetaData"u8, 5]);
        FlvWriter.WriteTag(output, FlvTagType.Video, 0x01020304, TestMedia.VideoFrame(true, 50));
        FlvWriter.WriteTag(output, FlvTagType.Audio, 23, TestMedia.AudioFrame(10));
        var data = output.WrittenSpan.ToArray();

        Assert.Equal("FLV"u8.ToArray(), data[..3]);
        Assert.Equal(0x05, data[4]);

        for (var cut = 0; cut < data.Length; cut++)
        {
            var reader = new SequenceReader<byte>(Sequences.Split(data, cut));
            Assert.True(FlvReader.TryReadHeader(ref reader, out var audio, out var video));
            Assert.True(audio && video);
            var tags = new List<(FlvTagType, uint, int)>();
            while (FlvReader.TryReadTag(ref reader, out var tag))
            {
                tags.Add((tag.Type, tag.Timestamp, (int)tag.Data.Length));
            }

            Assert.True(reader.End);
            Assert.Equal([(FlvTagType.ScriptData, 0u, 14), (FlvTagType.Video, 0x01020304u, 59), (FlvTagType.Audio, 23u, 12)], tags);
        }
    }

    [Fact]
    public async Task Flv_writer_writes_through_a_stream_and_counts_bytes()
    {
        using var stream = new MemoryStream();
        var writer = new FlvWriter(stream);
        writer.WriteHeader();
        writer.WriteMedia(new RtmpMediaPacket(RtmpMediaType.Audio, 5, TestMedia.AudioSequenceHeader(), false, true, 0));
        Assert.True(await writer.FlushAsync(TestContext.Current.CancellationToken));
        Assert.Equal(13 + 11 + 4 + 4, writer.BytesWritten);
        Assert.Equal(writer.BytesWritten, stream.Length);
    }

    [Fact]
    public void Handshake_answers_with_version_3_and_echoes_c1_as_s2()
    {
        var c0c1 = ClientWriter.C0C1(seed: 9);
        var c1 = new byte[RtmpHandshake.PacketSize];
        for (var cut = 0; cut <= c0c1.Length; cut += 97)
        {
            var reader = new SequenceReader<byte>(Sequences.Split(c0c1, cut));
            Assert.True(RtmpHandshake.TryReadC0C1(ref reader, c1));
            Assert.True(reader.End);
        }

        var partial = new SequenceReader<byte>(new ReadOnlySequence<byte>(c0c1.AsMemory(0, 1000)));
        Assert.False(RtmpHandshake.TryReadC0C1(ref partial, c1));

        var output = new ArrayBufferWriter<byte>();
        RtmpHandshake.WriteS0S1S2(output, c1, 1234);
        var s = output.WrittenSpan;
        Assert.Equal(1 + (2 * RtmpHandshake.PacketSize), s.Length);
        Assert.Equal(3, s[0]);
        Assert.Equal(new byte[4], s.Slice(5, 4).ToArray()); // zeros: no Flash Player 9 digest
        Assert.Equal(c0c1.AsSpan(1).ToArray(), s[(1 + RtmpHandshake.PacketSize)..].ToArray());
    }

    [Fact]
    public void Options_name_the_setting_that_is_out_of_range()
    {
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => new RtmpServerOptions { MaxIncomingChunkSize = 10 }.Validate());
        Assert.Equal("MaxIncomingChunkSize", error.ParamName);
        var transport = new InMemoryTransport();
        var host = new RecordingHost();
        Assert.Throws<ArgumentOutOfRangeException>(() => new RtmpConnection(transport.Server, host, host, new RtmpServerOptions { IdleTimeout = TimeSpan.Zero }));
    }

    [Fact]
    public async Task Remuxed_flv_from_the_in_memory_session_starts_with_metadata_and_sequence_headers()
    {
        var pipe = new Pipe();
        var host = new RecordingHost(acceptedKey: null) { Flv = new FlvWriter(pipe.Writer) };
        var transport = new InMemoryTransport();
        await using var connection = new RtmpConnection(transport.Server, host, host);
        var run = connection.RunAsync(TestContext.Current.CancellationToken);
        await transport.ClientToServer.Writer.WriteAsync(ClientWriter.WholeSessionBytes("KEY", frames: 3), TestContext.Current.CancellationToken);
        await transport.ClientToServer.Writer.CompleteAsync();
        await run.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        await host.Flv.CompleteAsync();

        var result = await pipe.Reader.ReadAsync(TestContext.Current.CancellationToken);
        var reader = new SequenceReader<byte>(result.Buffer);
        Assert.True(FlvReader.TryReadHeader(ref reader, out _, out _));
        var types = new List<FlvTagType>();
        while (FlvReader.TryReadTag(ref reader, out var tag))
        {
            types.Add(tag.Type);
        }

        Assert.Equal(
            [FlvTagType.ScriptData, FlvTagType.Video, FlvTagType.Audio, FlvTagType.Video, FlvTagType.Audio, FlvTagType.Video, FlvTagType.Audio, FlvTagType.Video, FlvTagType.Audio],
            types);
    }
}
