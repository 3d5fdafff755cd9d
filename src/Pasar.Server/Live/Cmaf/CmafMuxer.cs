namespace Pasar.Server.Live.Cmaf;

/// <summary>
/// Turns RTMP audio/video messages into CMAF samples. A sample's duration is the distance to the next sample's decode
/// time, so each track holds its newest frame back until the next one arrives (one frame of delay). Payloads are
/// copied: RTMP lends them only for the call.
/// </summary>
internal sealed class CmafMuxer(int audioSampleRate)
{
    private readonly RtmpClock _videoClock = new();
    private readonly RtmpClock _audioClock = new();
    private readonly TrackQueue _video = new(CmafInitSegment.VideoTimescale);
    private readonly TrackQueue _audio = new(Math.Max(1, audioSampleRate));

    /// <summary>Video samples complete (their duration known) and not taken yet.</summary>
    public IReadOnlyList<CmafSample> ReadyVideo => _video.Ready;

    public IReadOnlyList<CmafSample> ReadyAudio => _audio.Ready;

    /// <summary>The decode time (video timescale) of the held-back video frame, if any: where the next fragment starts.</summary>
    public long? PendingVideoDecodeTime => _video.Pending?.DecodeTime;

    public bool PendingVideoIsKeyframe => _video.Pending?.IsKeyframe == true;

    /// <summary>Adds a coded H.264 frame (the FLV body after its 5-byte AVC header: length-prefixed NAL units).</summary>
    public void AddVideo(uint timestamp, int compositionOffsetMs, bool keyframe, ReadOnlySpan<byte> nalUnits)
    {
        var ms = _videoClock.Unwrap(timestamp);
        _video.Add(ms * CmafInitSegment.VideoTimescale / 1000, compositionOffsetMs * (CmafInitSegment.VideoTimescale / 1000), keyframe, nalUnits.ToArray());
    }

    /// <summary>Adds a raw AAC frame (the FLV body after its 2-byte AAC header).</summary>
    public void AddAudio(uint timestamp, ReadOnlySpan<byte> frame)
    {
        var ms = _audioClock.Unwrap(timestamp);
        _audio.Add(ms * _audio.Timescale / 1000, 0, true, frame.ToArray());
    }

    /// <summary>Takes the ready samples (video, audio) for one fragment.</summary>
    public (List<CmafSample> Video, List<CmafSample> Audio) Take() => (_video.Take(), _audio.Take());

    /// <summary>Drops every frame held so far (a rung waiting for the passthrough rendition's next cut).</summary>
    public void Discard()
    {
        _video.Discard();
        _audio.Discard();
    }

    /// <summary>End of stream: the held-back frames become ready with the duration of the frame before them.</summary>
    public void Flush()
    {
        _video.Flush();
        _audio.Flush();
    }

    private sealed class TrackQueue(int timescale)
    {
        public int Timescale { get; } = timescale;
        public List<CmafSample> Ready { get; private set; } = [];
        public CmafSample? Pending { get; private set; }
        private int _lastDuration;

        public void Add(long decodeTime, int compositionOffset, bool keyframe, byte[] data)
        {
            if (Pending is { } pending)
            {
                // A timestamp step back (or a repeat) still gives the frame a positive duration, so the timeline never
                // runs backwards in the fragments; the next frame is moved to follow it.
                var duration = decodeTime - pending.DecodeTime;
                if (duration <= 0)
                {
                    duration = Math.Max(1, _lastDuration);
                    decodeTime = pending.DecodeTime + duration;
                }

                _lastDuration = (int)Math.Min(int.MaxValue, duration);
                Ready.Add(pending with { Duration = _lastDuration });
            }

            Pending = new CmafSample(decodeTime, 0, compositionOffset, keyframe, data);
        }

        public List<CmafSample> Take()
        {
            var taken = Ready;
            Ready = [];
            return taken;
        }

        public void Discard()
        {
            Ready = [];
            Pending = null;
        }

        public void Flush()
        {
            if (Pending is { } pending)
            {
                Ready.Add(pending with { Duration = Math.Max(1, _lastDuration) });
                Pending = null;
            }
        }
    }
}
