using System.Buffers;
using Pasar.Rtmp.Tests.Support;

namespace Pasar.Rtmp.Tests;

public sealed class ChunkStreamReaderTests
{
    private static byte[] Bytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    private static byte[] ChunkSize(uint size) => [(byte)(size >> 24), (byte)(size >> 16), (byte)(size >> 8), (byte)size];

    [Fact]
    public void Type0_message_spanning_chunks_is_reassembled_every_way_it_can_arrive()
    {
        var payload = Bytes(300, 1);
        var data = new ChunkBuilder()
            .Type0(3, 1000, 300, RtmpMessageType.CommandAmf0, 0).Payload(payload.AsSpan(0, 128))
            .Type3(3).Payload(payload.AsSpan(128, 128))
            .Type3(3).Payload(payload.AsSpan(256))
            .ToArray();

        ChunkFeeder.AssertParsesEveryWay(data, [new(3, 1000, RtmpMessageType.CommandAmf0, 0, payload)]);
    }

    [Fact]
    public void All_header_types_and_interleaved_chunk_streams_keep_their_own_state()
    {
        var command = Bytes(300, 2);
        var audio1 = Bytes(10, 3);
        var video = Bytes(200, 4);
        var audio2 = Bytes(10, 5);
        var audio3 = Bytes(10, 6);
        var small = Bytes(5, 7);
        var data = new ChunkBuilder()
            .Type0(3, 1000, 300, RtmpMessageType.CommandAmf0, 0).Payload(command.AsSpan(0, 128))
            .Type0(4, 0, 10, RtmpMessageType.Audio, 1).Payload(audio1) // interleaved inside the command
            .Type3(3).Payload(command.AsSpan(128, 128))
            .Type0(6, 40, 200, RtmpMessageType.Video, 1).Payload(video.AsSpan(0, 128))
            .Type3(3).Payload(command.AsSpan(256))
            .Type2(4, 23).Payload(audio2) // type 2: same length and type, delta 23
            .Type3(6).Payload(video.AsSpan(128)) // continues the video message
            .Type3(4).Payload(audio3) // type 3 starting a message: reuses the delta 23
            .Type1(6, 33, 5, RtmpMessageType.Video).Payload(small) // type 1: new length, delta 33
            .ToArray();

        ChunkFeeder.AssertParsesEveryWay(data,
        [
            new(4, 0, RtmpMessageType.Audio, 1, audio1),
            new(3, 1000, RtmpMessageType.CommandAmf0, 0, command),
            new(4, 23, RtmpMessageType.Audio, 1, audio2),
            new(6, 40, RtmpMessageType.Video, 1, video),
            new(4, 46, RtmpMessageType.Audio, 1, audio3),
            new(6, 73, RtmpMessageType.Video, 1, small),
        ]);
    }

    [Fact]
    public void Type3_after_type0_adds_the_type0_timestamp_as_its_delta()
    {
        var a = Bytes(4, 8);
        var b = Bytes(4, 9);
        var data = new ChunkBuilder()
            .Type0(5, 20, 4, RtmpMessageType.Audio, 1).Payload(a)
            .Type3(5).Payload(b)
            .ToArray();

        ChunkFeeder.AssertParsesEveryWay(data, [new(5, 20, RtmpMessageType.Audio, 1, a), new(5, 40, RtmpMessageType.Audio, 1, b)]);
    }

    [Fact]
    public void Extended_timestamps_are_read_in_type0_type1_and_continuation_chunks()
    {
        const uint Big = 0x01000000;
        var first = Bytes(200, 10);
        var second = Bytes(200, 11);
        var third = Bytes(20, 12);
        var data = new ChunkBuilder()
            .Type0(7, Big, 200, RtmpMessageType.Video, 1).Payload(first.AsSpan(0, 128))
            .Type3(7).Extended(Big).Payload(first.AsSpan(128)) // continuation repeats the extended timestamp
            .Type3(7).Extended(Big).Payload(second.AsSpan(0, 128)) // new message: delta is the type 0 timestamp
            .Type3(7).Extended(Big).Payload(second.AsSpan(128))
            .Type1(7, 0xFFFFFF + 5u, 20, RtmpMessageType.Video).Payload(third) // extended delta
            .ToArray();

        ChunkFeeder.AssertParsesEveryWay(data,
        [
            new(7, Big, RtmpMessageType.Video, 1, first),
            new(7, 2 * Big, RtmpMessageType.Video, 1, second),
            new(7, (2 * Big) + 0xFFFFFF + 5, RtmpMessageType.Video, 1, third),
        ]);
    }

    [Fact]
    public void Two_and_three_byte_basic_headers_cover_the_whole_chunk_stream_id_range()
    {
        int[] ids = [2, 63, 64, 319, 320, 65599];
        var builder = new ChunkBuilder();
        var expected = new List<ReadMessage>();
        foreach (var id in ids)
        {
            var payload = Bytes(3, id);
            builder.Type0(id, (uint)id, 3, RtmpMessageType.Audio, 1).Payload(payload);
            expected.Add(new(id, (uint)id, RtmpMessageType.Audio, 1, payload));
        }

        ChunkFeeder.AssertParsesEveryWay(builder.ToArray(), expected);
    }

    [Fact]
    public void Set_chunk_size_applies_to_the_chunks_after_it()
    {
        var big = Bytes(5000, 13);
        var data = new ChunkBuilder()
            .Type0(2, 0, 4, RtmpMessageType.SetChunkSize, 0).Payload(ChunkSize(4096))
            .Type0(6, 0, 5000, RtmpMessageType.Video, 1).Payload(big.AsSpan(0, 4096))
            .Type3(6).Payload(big.AsSpan(4096))
            .Type0(2, 0, 4, RtmpMessageType.SetChunkSize, 0).Payload(ChunkSize(1))
            .Type0(6, 0, 3, RtmpMessageType.Video, 1).Payload([1])
            .Type3(6).Payload([2])
            .Type3(6).Payload([3])
            .ToArray();

        ChunkFeeder.AssertParsesEveryWay(data,
        [
            new(2, 0, RtmpMessageType.SetChunkSize, 0, ChunkSize(4096)),
            new(6, 0, RtmpMessageType.Video, 1, big),
            new(2, 0, RtmpMessageType.SetChunkSize, 0, ChunkSize(1)),
            new(6, 0, RtmpMessageType.Video, 1, [1, 2, 3]),
        ]);
    }

    [Fact]
    public void Abort_discards_the_partial_message_of_its_chunk_stream()
    {
        var partial = Bytes(128, 14);
        var after = Bytes(4, 15);
        var data = new ChunkBuilder()
            .Type0(6, 0, 300, RtmpMessageType.Video, 1).Payload(partial)
            .Type0(2, 0, 4, RtmpMessageType.Abort, 0).Payload([0, 0, 0, 6])
            .Type0(6, 10, 4, RtmpMessageType.Video, 1).Payload(after)
            .ToArray();

        ChunkFeeder.AssertParsesEveryWay(data,
        [
            new(2, 0, RtmpMessageType.Abort, 0, [0, 0, 0, 6]),
            new(6, 10, RtmpMessageType.Video, 1, after),
        ]);
    }

    [Fact]
    public void Zero_length_messages_complete_at_once()
    {
        var data = new ChunkBuilder().Type0(4, 5, 0, RtmpMessageType.Audio, 1).Type3(4).ToArray();
        ChunkFeeder.AssertParsesEveryWay(data, [new(4, 5, RtmpMessageType.Audio, 1, []), new(4, 10, RtmpMessageType.Audio, 1, [])]);
    }

    [Fact]
    public void Writer_output_round_trips_through_the_reader()
    {
        var writer = new ChunkStreamWriter { ChunkSize = 100 };
        var output = new ArrayBufferWriter<byte>();
        var first = Bytes(1000, 16);
        var second = Bytes(7, 17);
        writer.WriteMessage(output, 400, RtmpMessageType.Video, 0x12345678, 1, first);
        writer.WriteMessage(output, 3, RtmpMessageType.CommandAmf0, 7, 0, second);

        var data = new ChunkBuilder()
            .Type0(2, 0, 4, RtmpMessageType.SetChunkSize, 0).Payload(ChunkSize(100))
            .Payload(output.WrittenSpan)
            .ToArray();

        ChunkFeeder.AssertParsesEveryWay(data,
        [
            new(2, 0, RtmpMessageType.SetChunkSize, 0, ChunkSize(100)),
            new(400, 0x12345678, RtmpMessageType.Video, 1, first),
            new(3, 7, RtmpMessageType.CommandAmf0, 0, second),
        ]);
    }

    [Fact]
    public void Chunk_size_above_the_limit_is_a_protocol_error()
    {
        var data = new ChunkBuilder().Type0(2, 0, 4, RtmpMessageType.SetChunkSize, 0).Payload(ChunkSize(65537)).ToArray();
        var error = Assert.Throws<RtmpProtocolException>(() => ChunkFeeder.ReadAll(new ReadOnlySequence<byte>(data)));
        Assert.Equal(RtmpErrorCode.ChunkSizeTooLarge, error.Code);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(0x80000000u)]
    public void Chunk_size_zero_or_with_the_top_bit_is_invalid(uint size)
    {
        var data = new ChunkBuilder().Type0(2, 0, 4, RtmpMessageType.SetChunkSize, 0).Payload(ChunkSize(size)).ToArray();
        var error = Assert.Throws<RtmpProtocolException>(() => ChunkFeeder.ReadAll(new ReadOnlySequence<byte>(data)));
        Assert.Equal(RtmpErrorCode.InvalidChunkSize, error.Code);
    }

    [Fact]
    public void Oversized_message_is_refused_from_its_header_without_allocating_the_declared_size()
    {
        // Only the 12 header bytes arrive; the declared 16 MiB must be refused before any buffer exists.
        var data = new ChunkBuilder().Type0(6, 0, 0xFFFFFF, RtmpMessageType.Video, 1).ToArray();
        using var chunks = new ChunkStreamReader(new RtmpServerOptions());
        var before = GC.GetAllocatedBytesForCurrentThread();
        var error = Assert.Throws<RtmpProtocolException>(() =>
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(data));
            chunks.TryReadMessage(ref reader, out _);
        });
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(RtmpErrorCode.MessageTooLarge, error.Code);
        Assert.True(allocated < 64 * 1024, $"allocated {allocated} bytes");
        Assert.Equal(0, chunks.PeakPendingBytes);
    }

    [Fact]
    public void Oversized_command_is_refused_at_the_smaller_amf_limit()
    {
        var data = new ChunkBuilder().Type0(3, 0, 100_000, RtmpMessageType.CommandAmf0, 0).ToArray();
        var error = Assert.Throws<RtmpProtocolException>(() => ChunkFeeder.ReadAll(new ReadOnlySequence<byte>(data)));
        Assert.Equal(RtmpErrorCode.MessageTooLarge, error.Code);
    }

    [Fact]
    public void Buffers_grow_with_the_bytes_received_not_with_the_declared_length()
    {
        // A 4 MiB message of which only one 128-byte chunk has arrived holds at most the first buffer step.
        var data = new ChunkBuilder().Type0(6, 0, 4 * 1024 * 1024, RtmpMessageType.Video, 1).Payload(new byte[128]).ToArray();
        using var chunks = new ChunkStreamReader(new RtmpServerOptions());
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(data));
        Assert.False(chunks.TryReadMessage(ref reader, out _));
        Assert.True(reader.End);
        Assert.InRange(chunks.PendingBytes, 1, 64 * 1024);
    }

    [Fact]
    public void Partial_messages_across_chunk_streams_are_capped_in_total()
    {
        var options = new RtmpServerOptions { MaxMessageSize = 1024 * 1024, MaxPendingMessageBytes = 1024 * 1024, MaxIncomingChunkSize = 65536 };
        var builder = new ChunkBuilder().Type0(2, 0, 4, RtmpMessageType.SetChunkSize, 0).Payload(ChunkSize(65536));
        for (var id = 3; id < 40; id++)
        {
            builder.Type0(id, 0, 1024 * 1024, RtmpMessageType.Video, 1).Payload(new byte[65536]);
        }

        var error = Assert.Throws<RtmpProtocolException>(() => ChunkFeeder.ReadAll(new ReadOnlySequence<byte>(builder.ToArray()), options));
        Assert.Equal(RtmpErrorCode.TooMuchPendingData, error.Code);
    }

    [Fact]
    public void Too_many_chunk_streams_is_a_protocol_error()
    {
        var builder = new ChunkBuilder();
        for (var id = 2; id < 2 + 65; id++)
        {
            builder.Type0(id, 0, 1, RtmpMessageType.Audio, 1).Payload([0xAF]);
        }

        var error = Assert.Throws<RtmpProtocolException>(() => ChunkFeeder.ReadAll(new ReadOnlySequence<byte>(builder.ToArray())));
        Assert.Equal(RtmpErrorCode.TooManyChunkStreams, error.Code);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void Compressed_header_on_an_unknown_chunk_stream_is_a_protocol_error(int format)
    {
        var data = new ChunkBuilder().Basic(format, 9).Bytes(0, 0, 0, 0, 0, 1, 8, 0, 0, 0, 0).ToArray();
        var error = Assert.Throws<RtmpProtocolException>(() => ChunkFeeder.ReadAll(new ReadOnlySequence<byte>(data)));
        Assert.Equal(RtmpErrorCode.InvalidChunkHeader, error.Code);
    }
}
