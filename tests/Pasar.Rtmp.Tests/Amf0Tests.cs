using System.Buffers;
using Pasar.Rtmp.Tests.Support;

namespace Pasar.Rtmp.Tests;

public sealed class Amf0Tests
{
    private static AmfValue Sample() => AmfValue.FromObject(
    [
        new("app", AmfValue.FromString("live")),
        new("tcUrl", AmfValue.FromString("rtmp://127.0.0.1:1935/live")),
        new("fpad", AmfValue.FromBoolean(false)),
        new("capabilities", AmfValue.FromNumber(239)),
        new("nothing", AmfValue.Null),
        new("missing", AmfValue.Undefined),
        new("when", AmfValue.FromDate(1_700_000_000_000)),
        new("long", AmfValue.FromString(new string('x', 70_000))),
        new("unicode", AmfValue.FromString("Toko Sinar 🌟 ஷாப்")),
        new("meta", AmfValue.FromEcmaArray([new("width", AmfValue.FromNumber(1280)), new("height", AmfValue.FromNumber(720))])),
        new("list", AmfValue.FromStrictArray([AmfValue.FromNumber(1), AmfValue.FromString("two"), AmfValue.FromObject([])])),
    ]);

    private static byte[] Encode(params AmfValue[] values)
    {
        var output = new ArrayBufferWriter<byte>();
        foreach (var value in values)
        {
            Amf0Writer.WriteValue(output, value);
        }

        return output.WrittenSpan.ToArray();
    }

    private static List<AmfValue> DecodeAll(ReadOnlySequence<byte> input, int maxDepth = Amf0Reader.DefaultMaxDepth)
    {
        var reader = new SequenceReader<byte>(input);
        var values = new List<AmfValue>();
        while (!reader.End)
        {
            Assert.True(Amf0Reader.TryReadValue(ref reader, maxDepth, out var value));
            values.Add(value);
        }

        return values;
    }

    private static void AssertEquivalent(AmfValue expected, AmfValue actual)
    {
        Assert.Equal(expected.Kind, actual.Kind);
        Assert.Equal(expected.String, actual.String);
        Assert.Equal(expected.Boolean, actual.Boolean);
        Assert.Equal(expected.Number, actual.Number);
        Assert.Equal(expected.Properties.Select(p => p.Key), actual.Properties.Select(p => p.Key));
        for (var i = 0; i < expected.Properties.Count; i++)
        {
            AssertEquivalent(expected.Properties[i].Value, actual.Properties[i].Value);
        }

        Assert.Equal(expected.Items.Count, actual.Items.Count);
        for (var i = 0; i < expected.Items.Count; i++)
        {
            AssertEquivalent(expected.Items[i], actual.Items[i]);
        }
    }

    [Fact]
    public void Every_type_round_trips_whole_and_split_at_every_offset()
    {
        var values = new[] { AmfValue.FromString("connect"), AmfValue.FromNumber(1), Sample(), AmfValue.FromNumber(double.NaN) };
        var data = Encode(values);

        void Check(ReadOnlySequence<byte> input)
        {
            var decoded = DecodeAll(input);
            Assert.Equal(values.Length, decoded.Count);
            for (var i = 0; i < values.Length; i++)
            {
                AssertEquivalent(values[i], decoded[i]);
            }
        }

        Check(new ReadOnlySequence<byte>(data));
        for (var cut = 1; cut < data.Length; cut += cut < 400 || cut > data.Length - 400 ? 1 : 97)
        {
            Check(Sequences.Split(data, cut));
        }
    }

    [Fact]
    public void Every_proper_prefix_needs_more_data_and_leaves_the_reader_in_place()
    {
        var data = Encode(AmfValue.FromObject(
        [
            new("a", AmfValue.FromNumber(3)),
            new("b", AmfValue.FromStrictArray([AmfValue.FromBoolean(true), AmfValue.FromString("yes")])),
            new("c", AmfValue.FromEcmaArray([new("d", AmfValue.FromDate(5))])),
            new("e", AmfValue.FromString(new string('z', 300))),
        ]));

        for (var length = 0; length < data.Length; length++)
        {
            var reader = new SequenceReader<byte>(Sequences.OneBytePerSegment(data.AsMemory(0, length)));
            Assert.False(Amf0Reader.TryReadValue(ref reader, out _), $"prefix of {length} bytes");
            Assert.Equal(0, reader.Consumed);
        }

        var whole = new SequenceReader<byte>(Sequences.OneBytePerSegment(data));
        Assert.True(Amf0Reader.TryReadValue(ref whole, out var value));
        Assert.True(whole.End);
        Assert.Equal(300, value["e"]!.String!.Length);
        Assert.Equal(5, value["c"]!["d"]!.Number);
    }

    [Fact]
    public void Known_bytes_decode_as_the_specification_says()
    {
        byte[] data =
        [
            0x02, 0x00, 0x07, (byte)'c', (byte)'o', (byte)'n', (byte)'n', (byte)'e', (byte)'c', (byte)'t',
            0x00, 0x3F, 0xF0, 0, 0, 0, 0, 0, 0, // 1.0
            0x03, 0x00, 0x03, (byte)'a', (byte)'p', (byte)'p', 0x02, 0x00, 0x04, (byte)'l', (byte)'i', (byte)'v', (byte)'e', 0x00, 0x00, 0x09,
            0x08, 0x00, 0x00, 0x00, 0x05, 0x00, 0x00, 0x09, // ECMA array whose count is wrong: the end marker wins
            0x10, 0x00, 0x01, (byte)'T', 0x00, 0x01, (byte)'k', 0x01, 0x01, 0x00, 0x00, 0x09, // typed object
            0x0D, // unsupported decodes as undefined
        ];

        var values = DecodeAll(new ReadOnlySequence<byte>(data));
        Assert.Equal("connect", values[0].String);
        Assert.Equal(1.0, values[1].Number);
        Assert.Equal("live", values[2]["app"]!.String);
        Assert.Equal(AmfValueKind.EcmaArray, values[3].Kind);
        Assert.Empty(values[3].Properties);
        Assert.True(values[4]["k"]!.Boolean);
        Assert.Equal(AmfValueKind.Undefined, values[5].Kind);
    }

    [Fact]
    public void Nesting_beyond_the_limit_is_a_protocol_error()
    {
        var value = AmfValue.FromNumber(1);
        for (var i = 0; i < 40; i++)
        {
            value = i % 2 == 0 ? AmfValue.FromObject([new("x", value)]) : AmfValue.FromStrictArray([value]);
        }

        var data = Encode(value);
        var error = Assert.Throws<RtmpProtocolException>(() => DecodeAll(new ReadOnlySequence<byte>(data), maxDepth: 16));
        Assert.Equal(RtmpErrorCode.AmfTooDeep, error.Code);
        Assert.Single(DecodeAll(new ReadOnlySequence<byte>(data), maxDepth: 40));
    }

    [Fact]
    public void Hostile_nesting_without_an_end_is_refused_not_recursed_into()
    {
        // 100 000 nested object markers: the depth limit stops the recursion long before the stack would.
        var data = Enumerable.Repeat((byte)0x0A, 100_000).SelectMany(_ => new byte[] { 0x0A, 0, 0, 0, 1 }).ToArray();
        var error = Assert.Throws<RtmpProtocolException>(() => DecodeAll(new ReadOnlySequence<byte>(data)));
        Assert.Equal(RtmpErrorCode.AmfTooDeep, error.Code);
    }

    [Fact]
    public void Declared_sizes_beyond_the_input_need_more_data_without_allocating_them()
    {
        byte[] strictArray = [0x0A, 0xFF, 0xFF, 0xFF, 0xFF, 0x05];
        byte[] longString = [0x0C, 0xFF, 0xFF, 0xFF, 0xFF, 0x41];
        var before = GC.GetAllocatedBytesForCurrentThread();
        foreach (var data in new[] { strictArray, longString })
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(data));
            Assert.False(Amf0Reader.TryReadValue(ref reader, out _));
        }

        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 * 1024);
    }

    [Theory]
    [InlineData(new byte[] { 0x07, 0x00, 0x01 })] // reference
    [InlineData(new byte[] { 0x11, 0x01 })] // AMF3 switch
    [InlineData(new byte[] { 0x09 })] // object end outside an object
    [InlineData(new byte[] { 0x0E })] // record set
    [InlineData(new byte[] { 0x42 })] // no such marker
    public void Unsupported_or_invalid_markers_are_malformed(byte[] data)
    {
        var error = Assert.Throws<RtmpProtocolException>(() => DecodeAll(new ReadOnlySequence<byte>(data)));
        Assert.Equal(RtmpErrorCode.MalformedAmf, error.Code);
    }

    [Fact]
    public void Strings_longer_than_65535_bytes_are_written_as_long_strings()
    {
        var output = new ArrayBufferWriter<byte>();
        Amf0Writer.WriteString(output, new string('a', 65_535));
        Assert.Equal(0x02, output.WrittenSpan[0]);
        output.ResetWrittenCount();
        Amf0Writer.WriteString(output, new string('a', 65_536));
        Assert.Equal(0x0C, output.WrittenSpan[0]);
        Assert.Equal(65_536 + 5, output.WrittenCount);
    }
}
