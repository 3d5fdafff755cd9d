namespace Pasar.Rtmp;

/// <summary>The publisher's <c>onMetaData</c>: what the encoder says it is sending.</summary>
public sealed class RtmpStreamMetadata
{
    private RtmpStreamMetadata(AmfValue properties, ReadOnlyMemory<byte> scriptData)
    {
        Properties = properties;
        ScriptData = scriptData;
    }

    /// <summary>Declared width in pixels.</summary>
    public int? Width { get; private init; }

    /// <summary>Declared height in pixels.</summary>
    public int? Height { get; private init; }

    /// <summary>Declared frames per second.</summary>
    public double? FrameRate { get; private init; }

    /// <summary>Declared video codec id (7 is H.264), when numeric.</summary>
    public double? VideoCodecId { get; private init; }

    /// <summary>Declared audio codec id (10 is AAC), when numeric.</summary>
    public double? AudioCodecId { get; private init; }

    /// <summary>Declared video bitrate in kbit/s.</summary>
    public double? VideoDataRate { get; private init; }

    /// <summary>Declared audio bitrate in kbit/s.</summary>
    public double? AudioDataRate { get; private init; }

    /// <summary>Declared audio sample rate in Hz.</summary>
    public double? AudioSampleRate { get; private init; }

    /// <summary>Declared audio channel count.</summary>
    public int? AudioChannels { get; private init; }

    /// <summary>The encoder's name, for example <c>obs-output module (libobs version 30.1.2)</c>.</summary>
    public string? Encoder { get; private init; }

    /// <summary>Every property as sent (an ECMA array or object).</summary>
    public AmfValue Properties { get; }

    /// <summary>AMF0 <c>"onMetaData"</c> followed by the properties: the body of an FLV script data tag.</summary>
    public ReadOnlyMemory<byte> ScriptData { get; }

    internal static RtmpStreamMetadata Create(AmfValue properties, ReadOnlyMemory<byte> scriptData)
    {
        double? Number(string key) => properties[key]?.AsNumber() is { } value && double.IsFinite(value) ? value : null;
        int? Whole(string key) => Number(key) is { } value && value is >= 0 and <= 65535 ? (int)Math.Round(value) : null;

        var channels = Whole("audiochannels");
        if (channels is null && properties["stereo"] is { Kind: AmfValueKind.Boolean } stereo)
        {
            channels = stereo.Boolean ? 2 : 1;
        }

        return new RtmpStreamMetadata(properties, scriptData)
        {
            Width = Whole("width"),
            Height = Whole("height"),
            FrameRate = Number("framerate") ?? Number("fps"),
            VideoCodecId = Number("videocodecid"),
            AudioCodecId = Number("audiocodecid"),
            VideoDataRate = Number("videodatarate"),
            AudioDataRate = Number("audiodatarate"),
            AudioSampleRate = Number("audiosamplerate"),
            AudioChannels = channels,
            Encoder = properties["encoder"]?.AsString(),
        };
    }
}
