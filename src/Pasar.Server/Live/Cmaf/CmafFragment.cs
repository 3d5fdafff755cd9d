namespace Pasar.Server.Live.Cmaf;

/// <summary>One coded frame for a fragment: decode time and duration in the track's timescale.</summary>
internal readonly record struct CmafSample(long DecodeTime, int Duration, int CompositionOffset, bool IsKeyframe, ReadOnlyMemory<byte> Data);

/// <summary>
/// Writes one CMAF chunk (<c>moof</c> + <c>mdat</c>): per track a <c>traf</c> with <c>tfhd</c>
/// (default-base-is-moof), <c>tfdt</c> (64-bit base decode time) and a version-1 <c>trun</c> carrying every sample's
/// duration, size, flags (sync or not) and signed composition offset (B-frames). Video data comes first in the mdat.
/// </summary>
internal static class CmafFragment
{
    private const uint SyncSampleFlags = 0x02000000; // sample_depends_on = 2 (an I picture)
    private const uint NonSyncSampleFlags = 0x01010000; // sample_depends_on = 1, sample_is_non_sync_sample
    private const uint AudioSampleFlags = 0x02000000;

    public static byte[] Build(uint sequenceNumber, IReadOnlyList<CmafSample> video, IReadOnlyList<CmafSample> audio)
    {
        var dataBytes = video.Sum(s => s.Data.Length) + audio.Sum(s => s.Data.Length);
        var w = new Mp4BoxWriter(256 + (video.Count + audio.Count) * 16 + dataBytes);
        var moof = w.Begin("moof");
        var mfhd = w.BeginFull("mfhd", 0, 0);
        w.UInt32(sequenceNumber);
        w.End(mfhd);
        var videoOffset = video.Count > 0 ? Traf(w, CmafInitSegment.VideoTrackId, video, isVideo: true) : -1;
        var audioOffset = audio.Count > 0 ? Traf(w, CmafInitSegment.AudioTrackId, audio, isVideo: false) : -1;
        w.End(moof);

        // trun data_offset counts from the moof's first byte (default-base-is-moof); mdat's header is 8 bytes.
        var data = w.Length + 8;
        if (videoOffset >= 0)
        {
            w.PatchUInt32(videoOffset, (uint)data);
            data += video.Sum(s => s.Data.Length);
        }

        if (audioOffset >= 0)
        {
            w.PatchUInt32(audioOffset, (uint)data);
        }

        var mdat = w.Begin("mdat");
        foreach (var sample in video)
        {
            w.Bytes(sample.Data.Span);
        }

        foreach (var sample in audio)
        {
            w.Bytes(sample.Data.Span);
        }

        w.End(mdat);
        return w.ToArray();
    }

    /// <summary>Writes a traf; returns where its trun's data_offset is, to patch once the moof size is known.</summary>
    private static int Traf(Mp4BoxWriter w, uint trackId, IReadOnlyList<CmafSample> samples, bool isVideo)
    {
        var traf = w.Begin("traf");
        var tfhd = w.BeginFull("tfhd", 0, 0x020000); // default-base-is-moof
        w.UInt32(trackId);
        w.End(tfhd);
        var tfdt = w.BeginFull("tfdt", 1, 0);
        w.UInt64((ulong)samples[0].DecodeTime);
        w.End(tfdt);

        // data-offset, sample-duration, sample-size, sample-flags, sample-composition-time-offset (video only).
        var flags = 0x000001u | 0x000100 | 0x000200 | 0x000400 | (isVideo ? 0x000800u : 0);
        var trun = w.BeginFull("trun", 1, flags);
        w.UInt32((uint)samples.Count);
        var dataOffset = w.Length;
        w.UInt32(0);
        foreach (var sample in samples)
        {
            w.UInt32((uint)sample.Duration);
            w.UInt32((uint)sample.Data.Length);
            w.UInt32(isVideo ? (sample.IsKeyframe ? SyncSampleFlags : NonSyncSampleFlags) : AudioSampleFlags);
            if (isVideo)
            {
                w.Int32(sample.CompositionOffset);
            }
        }

        w.End(trun);
        w.End(traf);
        return dataOffset;
    }
}

/// <summary>
/// Turns RTMP's 32-bit millisecond timestamps into a 64-bit timeline: a step back of more than half the range is a
/// wrap (after 49.7 days), not a jump back. Small steps back (a reordered audio message) are kept as they are.
/// </summary>
internal sealed class RtmpClock
{
    private uint _last;
    private long _epoch;
    private bool _started;

    public long Unwrap(uint timestamp)
    {
        if (_started)
        {
            if (timestamp < _last && _last - timestamp > 0x8000_0000u)
            {
                _epoch += 0x1_0000_0000L;
            }
            else if (timestamp > _last && timestamp - _last > 0x8000_0000u)
            {
                _epoch -= 0x1_0000_0000L; // a late message from before the wrap
            }
        }

        _started = true;
        _last = timestamp;
        return _epoch + timestamp;
    }
}
