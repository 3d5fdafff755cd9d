using System.Buffers;
using System.Buffers.Binary;
using System.Text;

namespace Pasar.Rtmp;

/// <summary>AMF0 encoder writing straight into an <see cref="IBufferWriter{T}"/>.</summary>
public static class Amf0Writer
{
    /// <summary>Writes a number.</summary>
    public static void WriteNumber(IBufferWriter<byte> output, double value)
    {
        ArgumentNullException.ThrowIfNull(output);
        var span = output.GetSpan(9);
        span[0] = Amf0Reader.NumberMarker;
        BinaryPrimitives.WriteDoubleBigEndian(span[1..], value);
        output.Advance(9);
    }

    /// <summary>Writes a boolean.</summary>
    public static void WriteBoolean(IBufferWriter<byte> output, bool value)
    {
        ArgumentNullException.ThrowIfNull(output);
        var span = output.GetSpan(2);
        span[0] = Amf0Reader.BooleanMarker;
        span[1] = value ? (byte)1 : (byte)0;
        output.Advance(2);
    }

    /// <summary>Writes a string, as a long string when its UTF-8 form exceeds 65 535 bytes.</summary>
    public static void WriteString(IBufferWriter<byte> output, string value)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(value);
        var length = Encoding.UTF8.GetByteCount(value);
        if (length <= ushort.MaxValue)
        {
            var header = output.GetSpan(3);
            header[0] = Amf0Reader.StringMarker;
            BinaryPrimitives.WriteUInt16BigEndian(header[1..], (ushort)length);
            output.Advance(3);
        }
        else
        {
            var header = output.GetSpan(5);
            header[0] = Amf0Reader.LongStringMarker;
            BinaryPrimitives.WriteUInt32BigEndian(header[1..], (uint)length);
            output.Advance(5);
        }

        WriteUtf8(output, value, length);
    }

    /// <summary>Writes null.</summary>
    public static void WriteNull(IBufferWriter<byte> output) => WriteMarker(output, Amf0Reader.NullMarker);

    /// <summary>Writes undefined.</summary>
    public static void WriteUndefined(IBufferWriter<byte> output) => WriteMarker(output, Amf0Reader.UndefinedMarker);

    /// <summary>Writes a date from Unix milliseconds.</summary>
    public static void WriteDate(IBufferWriter<byte> output, double unixMilliseconds, short timeZoneMinutes = 0)
    {
        ArgumentNullException.ThrowIfNull(output);
        var span = output.GetSpan(11);
        span[0] = Amf0Reader.DateMarker;
        BinaryPrimitives.WriteDoubleBigEndian(span[1..], unixMilliseconds);
        BinaryPrimitives.WriteInt16BigEndian(span[9..], timeZoneMinutes);
        output.Advance(11);
    }

    /// <summary>Starts an anonymous object; follow with <see cref="WritePropertyName"/>/value pairs and <see cref="WriteObjectEnd"/>.</summary>
    public static void WriteObjectStart(IBufferWriter<byte> output) => WriteMarker(output, Amf0Reader.ObjectMarker);

    /// <summary>Starts an ECMA array announcing <paramref name="count"/> properties; end it with <see cref="WriteObjectEnd"/>.</summary>
    public static void WriteEcmaArrayStart(IBufferWriter<byte> output, uint count)
    {
        ArgumentNullException.ThrowIfNull(output);
        var span = output.GetSpan(5);
        span[0] = Amf0Reader.EcmaArrayMarker;
        BinaryPrimitives.WriteUInt32BigEndian(span[1..], count);
        output.Advance(5);
    }

    /// <summary>Writes a property name inside an object or ECMA array.</summary>
    public static void WritePropertyName(IBufferWriter<byte> output, string name)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(name);
        var length = Encoding.UTF8.GetByteCount(name);
        if (length > ushort.MaxValue)
        {
            throw new ArgumentException("AMF0 property names are limited to 65535 UTF-8 bytes.", nameof(name));
        }

        BinaryPrimitives.WriteUInt16BigEndian(output.GetSpan(2), (ushort)length);
        output.Advance(2);
        WriteUtf8(output, name, length);
    }

    /// <summary>Ends an object or ECMA array (empty name followed by the object-end marker).</summary>
    public static void WriteObjectEnd(IBufferWriter<byte> output)
    {
        ArgumentNullException.ThrowIfNull(output);
        var span = output.GetSpan(3);
        span[0] = 0;
        span[1] = 0;
        span[2] = Amf0Reader.ObjectEndMarker;
        output.Advance(3);
    }

    /// <summary>Writes any <see cref="AmfValue"/>, recursively.</summary>
    public static void WriteValue(IBufferWriter<byte> output, AmfValue value)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(value);
        switch (value.Kind)
        {
            case AmfValueKind.Number:
                WriteNumber(output, value.Number);
                break;
            case AmfValueKind.Boolean:
                WriteBoolean(output, value.Boolean);
                break;
            case AmfValueKind.String:
                WriteString(output, value.String!);
                break;
            case AmfValueKind.Null:
                WriteNull(output);
                break;
            case AmfValueKind.Undefined:
                WriteUndefined(output);
                break;
            case AmfValueKind.Date:
                WriteDate(output, value.Number, value.TimeZoneMinutes);
                break;
            case AmfValueKind.StrictArray:
                var header = output.GetSpan(5);
                header[0] = Amf0Reader.StrictArrayMarker;
                BinaryPrimitives.WriteUInt32BigEndian(header[1..], (uint)value.Items.Count);
                output.Advance(5);
                foreach (var item in value.Items)
                {
                    WriteValue(output, item);
                }

                break;
            default:
                if (value.Kind == AmfValueKind.EcmaArray)
                {
                    WriteEcmaArrayStart(output, (uint)value.Properties.Count);
                }
                else
                {
                    WriteObjectStart(output);
                }

                foreach (var property in value.Properties)
                {
                    WritePropertyName(output, property.Key);
                    WriteValue(output, property.Value);
                }

                WriteObjectEnd(output);
                break;
        }
    }

    private static void WriteMarker(IBufferWriter<byte> output, byte marker)
    {
        ArgumentNullException.ThrowIfNull(output);
        output.GetSpan(1)[0] = marker;
        output.Advance(1);
    }

    private static void WriteUtf8(IBufferWriter<byte> output, string value, int length)
    {
        if (length == 0)
        {
            return;
        }

        var written = Encoding.UTF8.GetBytes(value, output.GetSpan(length));
        output.Advance(written);
    }
}
