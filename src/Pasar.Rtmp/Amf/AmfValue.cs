using System.Globalization;

namespace Pasar.Rtmp;

/// <summary>The AMF0 type of an <see cref="AmfValue"/>.</summary>
public enum AmfValueKind
{
    /// <summary>IEEE-754 double (marker 0x00).</summary>
    Number,

    /// <summary>Boolean (marker 0x01).</summary>
    Boolean,

    /// <summary>UTF-8 string; short (0x02), long (0x0C) and XML (0x0F) strings all decode to this.</summary>
    String,

    /// <summary>Anonymous or typed object (markers 0x03 and 0x10).</summary>
    Object,

    /// <summary>null (0x05).</summary>
    Null,

    /// <summary>undefined (0x06).</summary>
    Undefined,

    /// <summary>ECMA (associative) array (0x08).</summary>
    EcmaArray,

    /// <summary>Strict (dense) array (0x0A).</summary>
    StrictArray,

    /// <summary>Date (0x0B): milliseconds since the Unix epoch, UTC.</summary>
    Date,
}

/// <summary>An immutable AMF0 value as found in RTMP commands and metadata.</summary>
public sealed class AmfValue
{
    private static readonly IReadOnlyList<KeyValuePair<string, AmfValue>> NoProperties = [];
    private static readonly IReadOnlyList<AmfValue> NoItems = [];

    private AmfValue(AmfValueKind kind) => Kind = kind;

    /// <summary>The AMF0 null value.</summary>
    public static AmfValue Null { get; } = new(AmfValueKind.Null);

    /// <summary>The AMF0 undefined value.</summary>
    public static AmfValue Undefined { get; } = new(AmfValueKind.Undefined);

    /// <summary>The AMF0 type of this value.</summary>
    public AmfValueKind Kind { get; }

    /// <summary>The number (or date, as Unix milliseconds); 0 for other kinds.</summary>
    public double Number { get; private init; }

    /// <summary>The boolean; false for other kinds.</summary>
    public bool Boolean { get; private init; }

    /// <summary>The string; null for other kinds.</summary>
    public string? String { get; private init; }

    /// <summary>Properties of an object or ECMA array, in wire order; empty for other kinds.</summary>
    public IReadOnlyList<KeyValuePair<string, AmfValue>> Properties { get; private init; } = NoProperties;

    /// <summary>Items of a strict array; empty for other kinds.</summary>
    public IReadOnlyList<AmfValue> Items { get; private init; } = NoItems;

    /// <summary>Time zone offset in minutes carried by a date (AMF0 says it should be 0).</summary>
    public short TimeZoneMinutes { get; private init; }

    /// <summary>The first property named <paramref name="key"/>, or null when absent or not an object.</summary>
    public AmfValue? this[string key]
    {
        get
        {
            foreach (var property in Properties)
            {
                if (string.Equals(property.Key, key, StringComparison.Ordinal))
                {
                    return property.Value;
                }
            }

            return null;
        }
    }

    /// <summary>Creates a number.</summary>
    public static AmfValue FromNumber(double value) => new(AmfValueKind.Number) { Number = value };

    /// <summary>Creates a boolean.</summary>
    public static AmfValue FromBoolean(bool value) => new(AmfValueKind.Boolean) { Boolean = value };

    /// <summary>Creates a string.</summary>
    public static AmfValue FromString(string value) => new(AmfValueKind.String) { String = value ?? throw new ArgumentNullException(nameof(value)) };

    /// <summary>Creates an anonymous object from properties in order.</summary>
    public static AmfValue FromObject(IEnumerable<KeyValuePair<string, AmfValue>> properties) =>
        new(AmfValueKind.Object) { Properties = [.. properties] };

    /// <summary>Creates an ECMA array from properties in order.</summary>
    public static AmfValue FromEcmaArray(IEnumerable<KeyValuePair<string, AmfValue>> properties) =>
        new(AmfValueKind.EcmaArray) { Properties = [.. properties] };

    /// <summary>Creates a strict array.</summary>
    public static AmfValue FromStrictArray(IEnumerable<AmfValue> items) => new(AmfValueKind.StrictArray) { Items = [.. items] };

    /// <summary>Creates a date from Unix milliseconds.</summary>
    public static AmfValue FromDate(double unixMilliseconds, short timeZoneMinutes = 0) =>
        new(AmfValueKind.Date) { Number = unixMilliseconds, TimeZoneMinutes = timeZoneMinutes };

    internal static AmfValue FromObjectList(List<KeyValuePair<string, AmfValue>> properties, bool ecma) =>
        new(ecma ? AmfValueKind.EcmaArray : AmfValueKind.Object) { Properties = properties };

    internal static AmfValue FromItemList(List<AmfValue> items) => new(AmfValueKind.StrictArray) { Items = items };

    /// <summary>The number when this is a number, or a string holding one; otherwise null.</summary>
    public double? AsNumber() => Kind switch
    {
        AmfValueKind.Number => Number,
        AmfValueKind.String when double.TryParse(String, NumberStyles.Float, CultureInfo.InvariantCulture, out var parsed) => parsed,
        _ => null,
    };

    /// <summary>The string when this is a string; otherwise null.</summary>
    public string? AsString() => Kind == AmfValueKind.String ? String : null;

    /// <inheritdoc />
    public override string ToString() => Kind switch
    {
        AmfValueKind.Number => Number.ToString(CultureInfo.InvariantCulture),
        AmfValueKind.Boolean => Boolean ? "true" : "false",
        AmfValueKind.String => String!,
        AmfValueKind.Null => "null",
        AmfValueKind.Undefined => "undefined",
        AmfValueKind.Date when Number is >= -62_135_596_800_000d and <= 253_402_300_799_999d =>
            DateTimeOffset.FromUnixTimeMilliseconds((long)Number).ToString("O", CultureInfo.InvariantCulture),
        AmfValueKind.Date => "Date(" + Number.ToString(CultureInfo.InvariantCulture) + ")",
        AmfValueKind.StrictArray => "[" + string.Join(", ", Items) + "]",
        _ => "{" + string.Join(", ", Properties.Select(p => p.Key + ": " + p.Value)) + "}",
    };
}
