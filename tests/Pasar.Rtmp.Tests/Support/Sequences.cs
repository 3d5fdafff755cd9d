using System.Buffers;

namespace Pasar.Rtmp.Tests.Support;

/// <summary>Builds multi-segment sequences so parsers meet every possible segment boundary.</summary>
internal static class Sequences
{
    public static ReadOnlySequence<byte> Split(ReadOnlyMemory<byte> data, params int[] cuts)
    {
        var boundaries = cuts.Where(c => c > 0 && c < data.Length).Distinct().Order().ToList();
        if (boundaries.Count == 0)
        {
            return new ReadOnlySequence<byte>(data);
        }

        var start = 0;
        Segment? first = null, last = null;
        foreach (var end in boundaries.Append(data.Length))
        {
            var segment = new Segment(data[start..end]);
            if (first is null)
            {
                first = last = segment;
            }
            else
            {
                last = last!.Append(segment);
            }

            start = end;
        }

        return new ReadOnlySequence<byte>(first!, 0, last!, last!.Memory.Length);
    }

    public static ReadOnlySequence<byte> OneBytePerSegment(ReadOnlyMemory<byte> data) =>
        Split(data, [.. Enumerable.Range(1, Math.Max(0, data.Length - 1))]);

    public static ReadOnlySequence<byte> Concat(IReadOnlyList<ReadOnlyMemory<byte>> parts)
    {
        var nonEmpty = parts.Where(p => !p.IsEmpty).ToList();
        if (nonEmpty.Count == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        var first = new Segment(nonEmpty[0]);
        var last = first;
        foreach (var part in nonEmpty.Skip(1))
        {
            last = last.Append(new Segment(part));
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory) => Memory = memory;

        public Segment Append(Segment next)
        {
            next.RunningIndex = RunningIndex + Memory.Length;
            Next = next;
            return next;
        }
    }
}
