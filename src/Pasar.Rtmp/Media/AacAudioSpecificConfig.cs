using System.Diagnostics.CodeAnalysis;

namespace Pasar.Rtmp;

/// <summary>An AAC AudioSpecificConfig (ISO/IEC 14496-3, 1.6.2.1), the body of an AAC sequence header.</summary>
public sealed class AacAudioSpecificConfig
{
    private static readonly int[] SampleRates = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

    private AacAudioSpecificConfig()
    {
    }

    /// <summary>audioObjectType: 2 is AAC-LC, 5 HE-AAC (SBR), 29 HE-AACv2 (PS).</summary>
    public int ObjectType { get; private init; }

    /// <summary>Sampling rate in Hz.</summary>
    public int SampleRate { get; private init; }

    /// <summary>channelConfiguration: 1 mono, 2 stereo, 0 means defined in the stream.</summary>
    public int ChannelConfiguration { get; private init; }

    /// <summary>The RFC 6381 codecs string, for example <c>mp4a.40.2</c>.</summary>
    public string Codecs => $"mp4a.40.{ObjectType}";

    /// <summary>Parses the config. Returns false when it is truncated or uses a reserved sampling index.</summary>
    public static bool TryParse(ReadOnlySpan<byte> config, [NotNullWhen(true)] out AacAudioSpecificConfig? result)
    {
        //  AudioSpecificConfig() {
        //    audioObjectType            5 bits  (31: escape, then 6 more bits + 32)
        //    samplingFrequencyIndex     4 bits  (15: escape, then a 24-bit frequency)
        //    channelConfiguration       4 bits
        //    ...
        //  }
        result = null;
        var position = 0;
        var totalBits = config.Length * 8;

        int Read(int count, ReadOnlySpan<byte> data)
        {
            if (position + count > totalBits)
            {
                position = int.MaxValue / 2;
                return -1;
            }

            var value = 0;
            for (var i = 0; i < count; i++, position++)
            {
                value = (value << 1) | ((data[position >> 3] >> (7 - (position & 7))) & 1);
            }

            return value;
        }

        var objectType = Read(5, config);
        if (objectType == 31)
        {
            objectType = 32 + Read(6, config);
        }

        var frequencyIndex = Read(4, config);
        int sampleRate;
        if (frequencyIndex == 15)
        {
            sampleRate = Read(24, config);
        }
        else if (frequencyIndex >= 0 && frequencyIndex < SampleRates.Length)
        {
            sampleRate = SampleRates[frequencyIndex];
        }
        else
        {
            return false;
        }

        var channels = Read(4, config);
        if (objectType <= 0 || sampleRate <= 0 || channels < 0)
        {
            return false;
        }

        result = new AacAudioSpecificConfig { ObjectType = objectType, SampleRate = sampleRate, ChannelConfiguration = channels };
        return true;
    }
}
