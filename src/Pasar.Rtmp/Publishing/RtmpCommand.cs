using System.Buffers;

namespace Pasar.Rtmp;

/// <summary>
/// An AMF0 command message (RTMP 1.0 specification, section 7.2):
/// <c>name (string), transaction id (number), command object (object or null), arguments...</c>
/// </summary>
internal sealed class RtmpCommand
{
    private RtmpCommand(string name, double transactionId, IReadOnlyList<AmfValue> arguments)
    {
        Name = name;
        TransactionId = transactionId;
        Arguments = arguments;
    }

    public string Name { get; }

    public double TransactionId { get; }

    /// <summary>Everything after the transaction id; index 0 is the command object.</summary>
    public IReadOnlyList<AmfValue> Arguments { get; }

    public AmfValue CommandObject => Arguments.Count > 0 ? Arguments[0] : AmfValue.Null;

    public AmfValue Argument(int index) => index + 1 < Arguments.Count ? Arguments[index + 1] : AmfValue.Undefined;

    /// <summary>Parses a complete command payload; anything incomplete or invalid is a protocol error.</summary>
    public static RtmpCommand Parse(ReadOnlyMemory<byte> payload, int maxDepth)
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(payload));
        if (!Amf0Reader.TryReadString(ref reader, out var name))
        {
            RtmpThrow.MalformedAmf("Truncated command name.");
        }

        var transactionId = 0d;
        var arguments = new List<AmfValue>();
        if (!reader.End)
        {
            if (!Amf0Reader.TryReadValue(ref reader, maxDepth, out var transaction))
            {
                RtmpThrow.MalformedAmf($"Truncated transaction id in '{name}'.");
            }

            transactionId = transaction.Kind == AmfValueKind.Number ? transaction.Number : 0;
        }

        while (!reader.End)
        {
            if (!Amf0Reader.TryReadValue(ref reader, maxDepth, out var argument))
            {
                RtmpThrow.MalformedAmf($"Truncated argument in '{name}'.");
            }

            arguments.Add(argument);
        }

        return new RtmpCommand(name, transactionId, arguments);
    }

    /// <summary>
    /// Splits a data message: returns its first string (<c>@setDataFrame</c> or <c>onMetaData</c>) and where the
    /// rest starts.
    /// </summary>
    public static string ReadDataName(ReadOnlyMemory<byte> payload, out int restOffset)
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(payload));
        if (!Amf0Reader.TryReadString(ref reader, out var name))
        {
            RtmpThrow.MalformedAmf("Truncated data message name.");
        }

        restOffset = (int)reader.Consumed;
        return name;
    }

    /// <summary>Reads <c>"onMetaData", properties</c> from a data message body.</summary>
    public static AmfValue? ReadMetadata(ReadOnlyMemory<byte> scriptData, int maxDepth)
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(scriptData));
        if (!Amf0Reader.TryReadString(ref reader, out var name))
        {
            RtmpThrow.MalformedAmf("Truncated metadata name.");
        }

        if (!Amf0Reader.TryReadValue(ref reader, maxDepth, out var properties))
        {
            RtmpThrow.MalformedAmf("Truncated metadata.");
        }

        return name == "onMetaData" && properties.Kind is AmfValueKind.EcmaArray or AmfValueKind.Object ? properties : null;
    }
}
