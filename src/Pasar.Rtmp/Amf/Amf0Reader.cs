using System.Buffers;
using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace Pasar.Rtmp;

/// <summary>
/// AMF0 decoder (Adobe "Action Message Format -- AMF 0", 2007). Every method returns false when the
/// input ends before the value does and throws <see cref="RtmpProtocolException"/> when the bytes can never
/// form a valid value, so a caller can tell "need more data" from "malformed".
/// </summary>
public static class Amf0Reader
{
    /// <summary>Nesting depth allowed when no limit is given.</summary>
    public const int DefaultMaxDepth = 16;

    internal const byte NumberMarker = 0x00;
    internal const byte BooleanMarker = 0x01;
    internal const byte StringMarker = 0x02;
    internal const byte ObjectMarker = 0x03;
    internal const byte MovieClipMarker = 0x04;
    internal const byte NullMarker = 0x05;
    internal const byte UndefinedMarker = 0x06;
    internal const byte ReferenceMarker = 0x07;
    internal const byte EcmaArrayMarker = 0x08;
    internal const byte ObjectEndMarker = 0x09;
    internal const byte StrictArrayMarker = 0x0A;
    internal const byte DateMarker = 0x0B;
    internal const byte LongStringMarker = 0x0C;
    internal const byte UnsupportedMarker = 0x0D;
    internal const byte RecordSetMarker = 0x0E;
    internal const byte XmlDocumentMarker = 0x0F;
    internal const byte TypedObjectMarker = 0x10;
    internal const byte AvmPlusMarker = 0x11;

    /// <summary>Reads one value with <see cref="DefaultMaxDepth"/>.</summary>
    /// <returns>False when more input is needed; the reader is then left where it was.</returns>
    public static bool TryReadValue(ref SequenceReader<byte> reader, [NotNullWhen(true)] out AmfValue? value) =>
        TryReadValue(ref reader, DefaultMaxDepth, out value);

    /// <summary>Reads one value, allowing objects and arrays nested at most <paramref name="maxDepth"/> deep.</summary>
    /// <returns>False when more input is needed; the reader is then left where it was.</returns>
    public static bool TryReadValue(ref SequenceReader<byte> reader, int maxDepth, [NotNullWhen(true)] out AmfValue? value)
    {
        var attempt = reader;
        if (!TryReadValueCore(ref attempt, maxDepth, 0, out value))
        {
            return false;
        }

        reader = attempt;
        return true;
    }

    /// <summary>Reads a value that must be a string (the command name of an RTMP command, for example).</summary>
    /// <returns>False when more input is needed; the reader is then left where it was.</returns>
    public static bool TryReadString(ref SequenceReader<byte> reader, [NotNullWhen(true)] out string? value)
    {
        value = null;
        var attempt = reader;
        if (!attempt.TryRead(out var marker))
        {
            return false;
        }

        switch (marker)
        {
            case StringMarker:
                if (!TryReadUtf8(ref attempt, longLength: false, out value))
                {
                    return false;
                }

                break;
            case LongStringMarker:
                if (!TryReadUtf8(ref attempt, longLength: true, out value))
                {
                    return false;
                }

                break;
            default:
                RtmpThrow.MalformedAmf($"Expected an AMF0 string, found marker 0x{marker:X2}.");
                break;
        }

        reader = attempt;
        return true;
    }

    private static bool TryReadValueCore(ref SequenceReader<byte> reader, int maxDepth, int depth, [NotNullWhen(true)] out AmfValue? value)
    {
        value = null;
        if (!reader.TryRead(out var marker))
        {
            return false;
        }

        switch (marker)
        {
            case NumberMarker:
                // number-type = number-marker DOUBLE (8 bytes, big-endian IEEE-754)
                if (!reader.TryReadBigEndian(out long bits))
                {
                    return false;
                }

                value = AmfValue.FromNumber(BitConverter.Int64BitsToDouble(bits));
                return true;

            case BooleanMarker:
                if (!reader.TryRead(out var flag))
                {
                    return false;
                }

                value = AmfValue.FromBoolean(flag != 0);
                return true;

            case StringMarker:
            case LongStringMarker:
            case XmlDocumentMarker:
                // string-type      = string-marker UTF-8       (U16 length)
                // long-string-type = long-string-marker UTF-8-long (U32 length)
                // xml-document     = xml-document-marker UTF-8-long
                if (!TryReadUtf8(ref reader, longLength: marker != StringMarker, out var text))
                {
                    return false;
                }

                value = AmfValue.FromString(text);
                return true;

            case NullMarker:
                value = AmfValue.Null;
                return true;

            case UndefinedMarker:
            case UnsupportedMarker:
                value = AmfValue.Undefined;
                return true;

            case ObjectMarker:
                // anonymous-object-type = object-marker *(object-property)
                // object-property       = (UTF-8 value-type) | (UTF-8-empty object-end-marker)
                return TryReadProperties(ref reader, maxDepth, depth, ecma: false, out value);

            case TypedObjectMarker:
                // typed-object-type = typed-object-marker class-name *(object-property)
                if (!TryReadUtf8(ref reader, longLength: false, out _))
                {
                    return false;
                }

                return TryReadProperties(ref reader, maxDepth, depth, ecma: false, out value);

            case EcmaArrayMarker:
                // ecma-array-type = ecma-array-marker U32 *(object-property)
                // The count is only a hint (encoders get it wrong); the end marker is authoritative.
                if (!reader.TryReadBigEndian(out int _))
                {
                    return false;
                }

                return TryReadProperties(ref reader, maxDepth, depth, ecma: true, out value);

            case StrictArrayMarker:
                return TryReadStrictArray(ref reader, maxDepth, depth, out value);

            case DateMarker:
                // date-type = date-marker DOUBLE time-zone (S16)
                if (!reader.TryReadBigEndian(out long dateBits) || !reader.TryReadBigEndian(out short zone))
                {
                    return false;
                }

                value = AmfValue.FromDate(BitConverter.Int64BitsToDouble(dateBits), zone);
                return true;

            case ObjectEndMarker:
                RtmpThrow.MalformedAmf("AMF0 object-end marker outside an object.");
                return false;

            case ReferenceMarker:
                RtmpThrow.MalformedAmf("AMF0 references are not supported.");
                return false;

            case AvmPlusMarker:
                RtmpThrow.MalformedAmf("AMF3 values are not supported.");
                return false;

            default:
                RtmpThrow.MalformedAmf($"Unknown or unsupported AMF0 marker 0x{marker:X2}.");
                return false;
        }
    }

    private static bool TryReadProperties(ref SequenceReader<byte> reader, int maxDepth, int depth, bool ecma, [NotNullWhen(true)] out AmfValue? value)
    {
        value = null;
        EnterNested(maxDepth, depth);
        var properties = new List<KeyValuePair<string, AmfValue>>();
        while (true)
        {
            if (!reader.TryReadBigEndian(out short rawKeyLength))
            {
                return false;
            }

            var keyLength = (ushort)rawKeyLength;
            if (keyLength == 0)
            {
                if (!reader.TryPeek(out var next))
                {
                    return false;
                }

                if (next == ObjectEndMarker)
                {
                    reader.Advance(1);
                    value = AmfValue.FromObjectList(properties, ecma);
                    return true;
                }
            }

            if (!TryReadUtf8(ref reader, keyLength, out var key) ||
                !TryReadValueCore(ref reader, maxDepth, depth + 1, out var item))
            {
                return false;
            }

            properties.Add(new(key, item));
        }
    }

    private static bool TryReadStrictArray(ref SequenceReader<byte> reader, int maxDepth, int depth, [NotNullWhen(true)] out AmfValue? value)
    {
        // strict-array-type = array-count (U32) *(value-type)
        value = null;
        EnterNested(maxDepth, depth);
        if (!reader.TryReadBigEndian(out int rawCount))
        {
            return false;
        }

        var count = (uint)rawCount;

        // Each item takes at least one byte, so a count beyond what is buffered cannot complete yet.
        // Checking first keeps a hostile count from sizing the list.
        if (count > reader.Remaining)
        {
            return false;
        }

        var items = new List<AmfValue>((int)count);
        for (var i = 0u; i < count; i++)
        {
            if (!TryReadValueCore(ref reader, maxDepth, depth + 1, out var item))
            {
                return false;
            }

            items.Add(item);
        }

        value = AmfValue.FromItemList(items);
        return true;
    }

    private static void EnterNested(int maxDepth, int depth)
    {
        if (depth + 1 > maxDepth)
        {
            RtmpThrow.Protocol(RtmpErrorCode.AmfTooDeep, $"AMF0 values nested deeper than {maxDepth}.");
        }
    }

    private static bool TryReadUtf8(ref SequenceReader<byte> reader, bool longLength, [NotNullWhen(true)] out string? value)
    {
        value = null;
        long length;
        if (longLength)
        {
            if (!reader.TryReadBigEndian(out int raw))
            {
                return false;
            }

            length = (uint)raw;
        }
        else
        {
            if (!reader.TryReadBigEndian(out short raw))
            {
                return false;
            }

            length = (ushort)raw;
        }

        return TryReadUtf8(ref reader, length, out value);
    }

    private static bool TryReadUtf8(ref SequenceReader<byte> reader, long length, [NotNullWhen(true)] out string? value)
    {
        // The length is checked against what is buffered before anything is allocated for it.
        if (reader.Remaining < length)
        {
            value = null;
            return false;
        }

        if (length == 0)
        {
            value = string.Empty;
            return true;
        }

        var unread = reader.UnreadSpan;
        value = unread.Length >= length
            ? Encoding.UTF8.GetString(unread[..(int)length])
            : Encoding.UTF8.GetString(reader.UnreadSequence.Slice(0, length));
        reader.Advance(length);
        return true;
    }
}
