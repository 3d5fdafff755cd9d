using System.Buffers;

namespace Pasar.Rtmp.Tests.Support;

internal sealed record ReadMessage(int ChunkStreamId, uint Timestamp, byte TypeId, uint StreamId, byte[] Payload)
{
    public bool Matches(ReadMessage other) =>
        ChunkStreamId == other.ChunkStreamId && Timestamp == other.Timestamp && TypeId == other.TypeId &&
        StreamId == other.StreamId && Payload.AsSpan().SequenceEqual(other.Payload);
}

/// <summary>Feeds a chunk stream to a <see cref="ChunkStreamReader"/> the ways a socket can deliver it.</summary>
internal static class ChunkFeeder
{
    /// <summary>Parses everything in one sequence, which must end on a message boundary.</summary>
    public static List<ReadMessage> ReadAll(ReadOnlySequence<byte> input, RtmpServerOptions? options = null)
    {
        using var chunks = new ChunkStreamReader(options ?? new RtmpServerOptions());
        var messages = new List<ReadMessage>();
        var reader = new SequenceReader<byte>(input);
        while (chunks.TryReadMessage(ref reader, out var message))
        {
            messages.Add(Copy(message));
        }

        Assert.True(reader.End, $"{reader.Remaining} bytes left unparsed");
        return messages;
    }

    /// <summary>
    /// Delivers <paramref name="data"/> in arrivals of the given sizes, the way a pipe does: unconsumed bytes stay
    /// in front of the next arrival, as separate segments.
    /// </summary>
    public static List<ReadMessage> Arrive(byte[] data, IEnumerable<int> arrivalSizes, RtmpServerOptions? options = null)
    {
        using var chunks = new ChunkStreamReader(options ?? new RtmpServerOptions());
        var messages = new List<ReadMessage>();
        var pending = new List<ReadOnlyMemory<byte>>();
        var offset = 0;
        foreach (var size in arrivalSizes)
        {
            pending.Add(data.AsMemory(offset, size));
            offset += size;
            var sequence = Sequences.Concat(pending);
            var reader = new SequenceReader<byte>(sequence);
            while (chunks.TryReadMessage(ref reader, out var message))
            {
                messages.Add(Copy(message));
            }

            var rest = sequence.Slice(reader.Position);
            pending = [.. SegmentsOf(rest)];
        }

        Assert.Equal(data.Length, offset);
        Assert.DoesNotContain(pending, p => !p.IsEmpty);
        return messages;
    }

    public static IEnumerable<int> OneByteAtATime(int length) => Enumerable.Repeat(1, length);

    /// <summary>Asserts the stream parses to <paramref name="expected"/> whole, split at every offset both ways, and byte by byte.</summary>
    public static void AssertParsesEveryWay(byte[] data, IReadOnlyList<ReadMessage> expected, RtmpServerOptions? options = null)
    {
        AssertSame(expected, ReadAll(new ReadOnlySequence<byte>(data), options), "whole");
        for (var cut = 1; cut < data.Length; cut++)
        {
            AssertSame(expected, ReadAll(Sequences.Split(data, cut), options), $"two segments split at {cut}");
            AssertSame(expected, Arrive(data, [cut, data.Length - cut], options), $"two arrivals split at {cut}");
        }

        AssertSame(expected, ReadAll(Sequences.OneBytePerSegment(data), options), "one byte per segment");
        AssertSame(expected, Arrive(data, OneByteAtATime(data.Length), options), "one byte per arrival");
    }

    private static void AssertSame(IReadOnlyList<ReadMessage> expected, List<ReadMessage> actual, string how)
    {
        Assert.True(expected.Count == actual.Count, $"{how}: expected {expected.Count} messages, got {actual.Count}");
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.True(expected[i].Matches(actual[i]), $"{how}: message {i} differs: expected {Describe(expected[i])}, got {Describe(actual[i])}");
        }
    }

    private static string Describe(ReadMessage m) => $"csid {m.ChunkStreamId} ts {m.Timestamp} type {m.TypeId} msid {m.StreamId} len {m.Payload.Length}";

    private static ReadMessage Copy(RtmpMessage message) =>
        new(message.ChunkStreamId, message.Timestamp, message.TypeId, message.StreamId, message.Payload.ToArray());

    private static IEnumerable<ReadOnlyMemory<byte>> SegmentsOf(ReadOnlySequence<byte> sequence)
    {
        foreach (var memory in sequence)
        {
            yield return memory;
        }
    }
}
