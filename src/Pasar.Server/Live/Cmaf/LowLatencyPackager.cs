using System.Globalization;
using System.Text;
using Pasar.Rtmp;

namespace Pasar.Server.Live.Cmaf;

/// <summary>
/// One rendition of a live session, packaged in-process as LL-HLS over CMAF: the passthrough rendition from the RTMP
/// frames, a transcoded rung from ffmpeg's FLV output (<see cref="CmafTranscoder"/>). Parts of <c>PartSeconds</c>;
/// the passthrough rendition cuts segments at the first key frame after <c>SegmentSeconds</c>, and a rung cuts where
/// the passthrough rendition cut (<see cref="Follow"/>), so key frames and media sequence numbers line up for ABR. The live window
/// kept in memory (players are served from here, not from disk), every finished segment also written to the session's
/// folder for the replay. Waiters (blocking playlist reloads, preload-hinted parts) await one shared signal that is
/// replaced each time a part is published: a thousand waiting players cost a thousand continuations, no threads.
/// </summary>
internal sealed class LowLatencyPackager
{

    /// <summary>
    /// The rendition's recording so far, appended to as each segment completes (an EVENT playlist with Pasar's own
    /// <c>#X-PASAR-</c> lines): what a restarted node reads to continue the numbering and keep the whole show in the
    /// replay, once segments are uploaded and gone from disk (ADR 0023). Never served, never uploaded.
    /// </summary>
    public const string RecordingFile = "recording-cmaf.m3u8";

    private readonly object _lock = new();
    private readonly LiveOptions _options;
    private readonly LiveMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly string _directory;
    private readonly List<Segment> _segments = [];
    private readonly Dictionary<int, byte[]> _inits = [];
    private TaskCompletionSource _changed = NewSignal();
    private TaskCompletionSource _chunked = NewSignal();
    private long _version;
    private readonly (long Version, RenditionReport[] Reports, string? Text)[] _rendered = new (long, RenditionReport[], string?)[2];
    private CmafMuxer? _muxer;
    private int _run;
    private bool _runStarted;
    private long _partStart;
    private long _chunkStart;
    private long _segmentStart;
    private bool _partIndependent;
    private uint _fragmentSequence;
    private long _totalBytes;
    private double _totalSeconds;
    private double _peakBitsPerSecond;
    private int _maxSegmentSeconds;
    private bool _ended;
    private long _nextMsnFloor;

    private readonly Storage.RecordingUploader? _uploader;
    private readonly string _sessionId;

    public LowLatencyPackager(string directory, LiveOptions options, LiveMetrics metrics, TimeProvider time, Storage.RecordingUploader? uploader = null,
        string rendition = RenditionInfo.SourceName)
    {
        Rendition = rendition;
        _uploader = uploader;
        _sessionId = Path.GetFileName(Path.TrimEndingDirectorySeparator(directory));
        _directory = directory;
        _options = options;
        _metrics = metrics;
        _time = time;
        _maxSegmentSeconds = options.SegmentSeconds;
        Directory.CreateDirectory(Path.Combine(directory, Rendition));
        Recover();
    }

    /// <summary>Whether a rendition folder holds a recording of this packager (a node restarted mid-show or before the replay).</summary>
    public static bool HasRecording(string directory, string rendition = RenditionInfo.SourceName) =>
        File.Exists(Path.Combine(directory, rendition, RecordingFile));

    /// <summary>The rendition's name: its folder and the first part of its URLs.</summary>
    public string Rendition { get; }

    /// <summary>
    /// For a transcoded rung: the passthrough rendition whose segment boundaries this one follows. A rung cuts a
    /// segment at a key frame only where the passthrough rendition started one (ffmpeg keeps the timestamps and puts
    /// key frames where the source has them), and takes that segment's program date-time.
    /// </summary>
    public LowLatencyPackager? Follow { get; init; }

    /// <summary>The bit rate to advertise before a segment has been measured (a rung's configured rate).</summary>
    public int ConfiguredKbps { get; init; }

    public double PartTarget => _options.PartSeconds;

    public string? VideoCodecs { get; private set; }
    public string? AudioCodecs { get; private set; }
    public int Width { get; private set; }
    public int Height { get; private set; }
    public double? FrameRate { get; private set; }

    /// <summary>Completed segments (for tests and the replay).</summary>
    public int SegmentCount
    {
        get
        {
            lock (_lock)
            {
                return _segments.Count(s => s.Complete && !s.Gap);
            }
        }
    }

    /// <summary>Completed segments recorded for the replay so far, in order, in the shape of the TS packager's recording.</summary>
    public IReadOnlyList<HlsSegment> Recorded()
    {
        lock (_lock)
        {
            return [.. _segments.Where(s => s.Complete && !s.Gap && s.Unrecorded is null)
                .Select(s => new HlsSegment(s.Run, SegmentName(s.Msn), s.Duration, s.Bytes, s.Discontinuity))];
        }
    }

    private int TargetDuration => _maxSegmentSeconds;

    /// <summary>A publisher (re)starts: the next frames open a new run, with its own init segment and a discontinuity.</summary>
    public void BeginRun()
    {
        lock (_lock)
        {
            CloseOpenSegment();
            _run++;
            _runStarted = false;
            _muxer = null;
            _waitingSince = null;
        }
    }

    /// <summary>The publisher left: the open part and segment are closed with what they hold.</summary>
    public void EndRun()
    {
        lock (_lock)
        {
            CloseOpenSegment();
            _muxer = null;
            Signal();
        }
    }

    /// <summary>Whether the next frame may open a run (and so needs the stream's format).</summary>
    public bool NeedsFormat
    {
        get
        {
            lock (_lock)
            {
                return !_runStarted;
            }
        }
    }

    public void Write(RtmpPublishContext context, RtmpMediaPacket packet) => Write(NeedsFormat ? StreamFormat.From(context) : null, packet);

    /// <summary>One frame; <paramref name="format"/> is needed only while <see cref="NeedsFormat"/>.</summary>
    public void Write(StreamFormat? format, RtmpMediaPacket packet)
    {
        lock (_lock)
        {
            if (_ended || packet.IsSequenceHeader)
            {
                return;
            }

            if (!_runStarted)
            {
                if (packet.Type != RtmpMediaType.Video || !packet.IsKeyframe || format is null)
                {
                    return; // a player can only start at a key frame
                }

                StartRun(format);
            }

            var payload = packet.Payload.Span;
            if (packet.Type == RtmpMediaType.Audio)
            {
                if (payload.Length > 2 && AudioCodecs is not null)
                {
                    _muxer!.AddAudio(packet.Timestamp, payload[2..]);
                }

                return;
            }

            if (payload.Length <= 5 || (payload[0] & 0x80) != 0)
            {
                return; // not AVC NAL units (enhanced RTMP is refused earlier; an end-of-sequence packet)
            }

            _muxer!.AddVideo(packet.Timestamp, packet.CompositionTimeOffset, packet.IsKeyframe, payload[5..]);
            Cut(packet.IsKeyframe);
        }
    }

    private void StartRun(StreamFormat format)
    {
        var video = format.Video;
        var audio = format.Audio;
        var aac = audio is not null && format.AudioSequenceHeader.Length > 2 ? format.AudioSequenceHeader.Span[2..] : default;
        var init = CmafInitSegment.Build(format.VideoSequenceHeader.Span[5..], format.Width, format.Height, aac, audio);
        _inits[_run] = init;
        WriteFile(InitName(_run), init);
        VideoCodecs = video.Codecs;
        AudioCodecs = aac.IsEmpty ? null : audio!.Codecs;
        Width = format.Width;
        Height = format.Height;
        FrameRate = format.FrameRate;
        _muxer = new CmafMuxer(audio?.SampleRate ?? 48000);
        _runStarted = true;
        AppendRecording(string.Create(CultureInfo.InvariantCulture,
            $"{RunTag}{_run},{System.Text.Json.JsonSerializer.Serialize(new StreamInfo(VideoCodecs, AudioCodecs, Width, Height, FrameRate), System.Text.Json.JsonSerializerOptions.Web)}\n"));
    }

    /// <summary>
    /// Called after each video frame: the frame before it is now complete. Cuts a segment when the new frame is a key
    /// frame and the segment is long enough, and a part when one more frame would pass the part target.
    /// </summary>
    private void Cut(bool keyframe)
    {
        var muxer = _muxer!;
        if (muxer.PendingVideoDecodeTime is not { } next)
        {
            return;
        }

        if (muxer.ReadyVideo.Count == 0)
        {
            if (Follow is { } leader && !StartsWithLeader(leader, next, keyframe))
            {
                muxer.Discard();
                return;
            }

            // The run's first frame: the first part and segment start here.
            _partStart = _chunkStart = _segmentStart = next;
            _partIndependent = true;
            OpenSegment();
            return;
        }

        var scale = (double)CmafInitSegment.VideoTimescale;
        var frame = muxer.ReadyVideo[^1].Duration / scale;
        var segmentElapsed = (next - _segmentStart) / scale;
        var cut = Follow is { } source
            ? keyframe && source.StartedSegmentNear(next, SegmentStartTolerance) is { } started && started > _segmentStart + SegmentStartTolerance
            : keyframe && segmentElapsed >= _options.SegmentSeconds - frame / 2;
        if (cut)
        {
            ClosePart(next);
            CloseSegment();
            _segmentStart = next;
            OpenSegment();
            _partIndependent = true;
            return;
        }

        var partElapsed = (next - _partStart) / scale;
        if (partElapsed + frame > _options.PartSeconds - 0.002)
        {
            ClosePart(next);
            _partIndependent = keyframe;
        }
        else if ((next - _chunkStart) / scale + frame / 2 >= _options.PartSeconds / ChunksPerPart)
        {
            AppendChunk(next);
        }
    }

    /// <summary>
    /// The open part is written as CMAF chunks (<c>moof</c> + <c>mdat</c>) of about a quarter of the part target, so a
    /// player holding the preload-hinted part's request gets its first frames a chunk after they arrive, not a part
    /// after. Four chunks cost about 500 bytes a part more than one fragment: 0.2 % of a 6 Mb/s stream, 3 % of 400 kb/s.
    /// </summary>
    private const int ChunksPerPart = 4;

    /// <summary>Writes the frames ready so far (up to <paramref name="end"/>) as one chunk of the open part, and wakes its readers.</summary>
    private void AppendChunk(long end)
    {
        var (video, audio) = _muxer!.Take();
        _chunkStart = end;
        if (video.Count == 0 && audio.Count == 0)
        {
            return;
        }

        var segment = _segments[^1];
        segment.Open ??= new OpenPart(_partIndependent);
        segment.Open.Chunks.Add(CmafFragment.Build(++_fragmentSequence, video, audio));
        var previous = _chunked;
        _chunked = NewSignal();
        previous.TrySetResult();
    }

    private void OpenSegment()
    {
        var msn = Math.Max(_segments.Count == 0 ? 0 : _segments[^1].Msn + 1, _nextMsnFloor);
        var discontinuity = _segments.Count > 0 && _segments[^1].Run != _run;
        if ((_segments.Count == 0 || discontinuity) && Follow?.SegmentsBefore(_segmentStart, msn) is { Count: > 0 } missed)
        {
            // A rung starting late, or back after an ffmpeg restart: the passthrough segments it has no pictures for
            // become EXT-X-GAP entries, so a media sequence number means the same pictures in every rendition (a
            // player switching renditions, or following a rendition report, lands at the same time).
            var gapRun = _segments.Count == 0 ? _run : _segments[^1].Run;
            foreach (var (gapMsn, duration, programDateTime) in missed)
            {
                _segments.Add(new Segment(gapMsn, gapRun, false, programDateTime) { Duration = duration, Complete = true, Gap = true });
            }

            msn = missed[^1].Msn + 1;
        }
        _segments.Add(new Segment(msn, _run, discontinuity, _time.GetUtcNow()) { Start = _segmentStart });
        _version++;
    }

    /// <summary>
    /// Whether a rung's run may start at this frame: a key frame where the passthrough rendition started a segment, so
    /// that the rung's first segment is numbered and timed as the passthrough one (an ffmpeg restarted mid-segment
    /// waits for the next cut, dropping at most a segment's pictures of a rung that was down anyway). After two
    /// segments' worth of frames without one (the source's key frames off the rung's frame grid), any key frame.
    /// </summary>
    private bool StartsWithLeader(LowLatencyPackager leader, long decodeTime, bool keyframe)
    {
        _waitingSince ??= decodeTime;
        var waited = (decodeTime - _waitingSince.Value) / (double)CmafInitSegment.VideoTimescale;
        if (keyframe && (leader.StartedSegmentNear(decodeTime, SegmentStartTolerance) is not null || waited >= 2 * _options.SegmentSeconds))
        {
            _waitingSince = null;
            return true;
        }

        return false;
    }

    private long? _waitingSince;

    /// <summary>How far a rung's key frame may be from the source's (ffmpeg rounds timestamps to its frame grid): 50 ms.</summary>
    private const long SegmentStartTolerance = CmafInitSegment.VideoTimescale / 20;

    /// <summary>The start (decode time) of a segment of this run begun within <paramref name="tolerance"/> of <paramref name="decodeTime"/>.</summary>
    private long? StartedSegmentNear(long decodeTime, long tolerance)
    {
        lock (_lock)
        {
            for (var i = _segments.Count - 1; i >= 0 && i >= _segments.Count - 4; i--)
            {
                if (_segments[i].Run == _run && _segments[i].Start is { } start && Math.Abs(start - decodeTime) <= tolerance)
                {
                    return start;
                }
            }

            return null;
        }
    }

    /// <summary>
    /// For a rung opening a segment at <paramref name="decodeTime"/> where its own numbering would give
    /// <paramref name="msn"/>: this rendition's segments from <paramref name="msn"/> up to the one that holds that
    /// time (msn, duration, program date-time), which the rung has no pictures for. Empty when the numbers agree, or
    /// when this rendition has no segment there (its numbering is then left alone).
    /// </summary>
    private List<(long Msn, double Duration, DateTimeOffset ProgramDateTime)> SegmentsBefore(long decodeTime, long msn)
    {
        lock (_lock)
        {
            var holding = _segments.FindLast(s => s.Run == _run && s.Start is { } start && start <= decodeTime + SegmentStartTolerance);
            var missed = new List<(long, double, DateTimeOffset)>();
            if (holding is null || holding.Msn <= msn || holding.Msn - msn > 1000)
            {
                return missed;
            }

            for (var m = msn; m < holding.Msn; m++)
            {
                if (_segments.Find(s => s.Msn == m) is not { Complete: true } segment)
                {
                    return [];
                }

                missed.Add((m, segment.Duration, segment.ProgramDateTime));
            }

            return missed;
        }
    }

    /// <summary>The program date-time of the source's segment that starts at <paramref name="decodeTime"/>, for a rung's segment.</summary>
    private DateTimeOffset? ProgramDateTimeNear(long decodeTime)
    {
        lock (_lock)
        {
            var segment = _segments.FindLast(s => s.Run == _run && s.Start is { } start && Math.Abs(start - decodeTime) <= SegmentStartTolerance);
            return segment?.Parts.Count > 0 ? segment.ProgramDateTime : null;
        }
    }

    private void ClosePart(long end)
    {
        AppendChunk(end);
        var segment = _segments[^1];
        if (segment.Open is not { } open)
        {
            return;
        }

        segment.Open = null;
        var bytes = open.Chunks.Count == 1 ? open.Chunks[0] : new byte[open.Chunks.Sum(c => c.Length)];
        if (open.Chunks.Count > 1)
        {
            var offset = 0;
            foreach (var chunk in open.Chunks)
            {
                chunk.CopyTo(bytes, offset);
                offset += chunk.Length;
            }
        }

        var duration = (end - _partStart) / (double)CmafInitSegment.VideoTimescale;
        segment.Parts.Add(new Part(bytes, duration, open.Independent));
        _partStart = end;
        if (segment.Parts.Count == 1)
        {
            // A rung's segment shows the same wall-clock time as the source's segment with the same pictures.
            segment.ProgramDateTime = (segment.Start is { } start ? Follow?.ProgramDateTimeNear(start) : null)
                ?? _time.GetUtcNow() - TimeSpan.FromSeconds(duration);
        }

        // How long after the part's last frame arrived it could be served: near zero when packaging keeps up.
        _metrics.PartLatency.Record(Math.Max(0, (_time.GetUtcNow() - segment.ProgramDateTime).TotalSeconds - segment.Duration - duration));
        segment.Duration += duration;
        Signal();
    }

    private void CloseSegment()
    {
        var segment = _segments[^1];
        if (segment.Parts.Count == 0)
        {
            _segments.RemoveAt(_segments.Count - 1);
            _version++;
            return;
        }

        segment.Complete = true;
        _firstSegmentAt ??= _time.GetUtcNow();
        _version++;
        var total = segment.Parts.Sum(p => p.Bytes.Length);
        segment.Bytes = total;
        _totalBytes += total;
        _totalSeconds += segment.Duration;
        if (segment.Duration >= 0.5)
        {
            _peakBitsPerSecond = Math.Max(_peakBitsPerSecond, total * 8 / segment.Duration);
        }

        _maxSegmentSeconds = Math.Max(_maxSegmentSeconds, (int)Math.Ceiling(segment.Duration - 0.001));
        try
        {
            // Written whole, then renamed: a segment file on disk is always complete (the uploader relies on it after a crash).
            var path = Path.Combine(_directory, Rendition, SegmentName(segment.Msn));
            using (var file = File.Create(path + ".tmp"))
            {
                foreach (var part in segment.Parts)
                {
                    file.Write(part.Bytes);
                }
            }

            File.Move(path + ".tmp", path, overwrite: true);
            var entry = new StringBuilder();
            if (segment.Discontinuity)
            {
                entry.Append("#EXT-X-DISCONTINUITY\n");
            }

            entry.Append(CultureInfo.InvariantCulture, $"{SegmentTag}{segment.Run},{total}\n");
            entry.Append(CultureInfo.InvariantCulture, $"#EXT-X-PROGRAM-DATE-TIME:{segment.ProgramDateTime.UtcDateTime:yyyy-MM-ddTHH:mm:ss.fffZ}\n");
            entry.Append(CultureInfo.InvariantCulture, $"#EXTINF:{segment.Duration:F5},\n{SegmentName(segment.Msn)}\n");
            AppendRecording(entry.ToString());
            _uploader?.Enqueue(_sessionId, Rendition, SegmentName(segment.Msn));
        }
        catch (IOException ex)
        {
            // The live stream goes on from memory; only the replay misses this segment.
            _metrics.PackagingFailures.Add(1, new KeyValuePair<string, object?>("stage", "write-segment"));
            segment.Unrecorded = ex.Message;
        }

        // Keep the live window (plus the skip horizon) in memory; older parts are dropped, the files stay.
        var keep = Math.Max(_options.LiveWindowSegments, 12);
        foreach (var old in _segments.Take(Math.Max(0, _segments.Count - keep)))
        {
            old.Parts.Clear();
        }
    }

    private void CloseOpenSegment()
    {
        if (_muxer is not null && _segments.Count > 0 && !_segments[^1].Complete)
        {
            _muxer.Flush();
            var video = _muxer.ReadyVideo;
            var end = video.Count > 0 ? video[^1].DecodeTime + video[^1].Duration : _partStart;
            ClosePart(end);
            CloseSegment();
        }
    }

    /// <summary>The session ended: the last segment is closed and the replay (a VOD playlist of the CMAF segments) written.</summary>
    /// <returns>Whether the rendition has a replay (at least one segment).</returns>
    public bool Finish()
    {
        lock (_lock)
        {
            CloseOpenSegment();
            _ended = true;
            Signal();
            if (!_segments.Any(s => s.Complete && !s.Gap))
            {
                return false;
            }

            WriteReplay();
            return true;
        }
    }

    /// <summary>The rendition's replay playlist, written in one place; the session's master is written by <see cref="CmafSession"/>.</summary>
    private void WriteReplay()
    {
        var text = new StringBuilder("#EXTM3U\n#EXT-X-VERSION:7\n");
        text.Append(CultureInfo.InvariantCulture, $"#EXT-X-TARGETDURATION:{TargetDuration}\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-INDEPENDENT-SEGMENTS\n");
        var run = -1;
        foreach (var segment in _segments.Where(s => s.Complete && !s.Gap && s.Unrecorded is null))
        {
            if (segment.Run != run)
            {
                if (run >= 0)
                {
                    text.Append("#EXT-X-DISCONTINUITY\n");
                }

                text.Append(CultureInfo.InvariantCulture, $"#EXT-X-MAP:URI=\"{InitName(segment.Run)}\"\n");
                run = segment.Run;
            }

            text.Append(CultureInfo.InvariantCulture, $"#EXT-X-PROGRAM-DATE-TIME:{segment.ProgramDateTime.UtcDateTime:yyyy-MM-ddTHH:mm:ss.fffZ}\n");
            text.Append(CultureInfo.InvariantCulture, $"#EXTINF:{segment.Duration:F5},\n{SegmentName(segment.Msn)}\n");
        }

        text.Append("#EXT-X-ENDLIST\n");
        HlsPackager.WriteAtomically(Path.Combine(_directory, Rendition, HlsPackager.ReplayFile), text.ToString());
        // The live URL keeps answering once the show is over, as the TS path's did: the whole show, ended.
        HlsPackager.WriteAtomically(Path.Combine(_directory, Rendition, HlsPackager.LiveFile), text.ToString());
    }

    /// <summary>When this process completed the rendition's first segment (null before, and for segments recovered after a restart).</summary>
    public DateTimeOffset? FirstSegmentAt
    {
        get
        {
            lock (_lock)
            {
                return _firstSegmentAt;
            }
        }
    }

    private DateTimeOffset? _firstSegmentAt;

    /// <summary>Whether a segment is complete: the rendition can be listed in the master playlist.</summary>
    public bool HasSegment
    {
        get
        {
            lock (_lock)
            {
                return VideoCodecs is not null && _segments.Exists(s => s.Complete && !s.Gap);
            }
        }
    }

    /// <summary>The rendition's <c>EXT-X-STREAM-INF</c> line and URI, with its measured bit rates (the configured rate before any).</summary>
    public string StreamInf(string variantFile)
    {
        lock (_lock)
        {
            var average = _totalSeconds <= 0 ? ConfiguredKbps * 1000.0 : _totalBytes * 8 / _totalSeconds;
            var codecs = string.Join(",", new[] { VideoCodecs, AudioCodecs }.Where(c => c is not null));
            var text = new StringBuilder();
            text.Append(CultureInfo.InvariantCulture, $"#EXT-X-STREAM-INF:BANDWIDTH={(long)Math.Round(Math.Max(average, _peakBitsPerSecond))},AVERAGE-BANDWIDTH={(long)Math.Round(average)},CODECS=\"{codecs}\"");
            if (Width > 0 && Height > 0)
            {
                text.Append(CultureInfo.InvariantCulture, $",RESOLUTION={Width}x{Height}");
            }

            if (FrameRate is { } fps)
            {
                text.Append(CultureInfo.InvariantCulture, $",FRAME-RATE={fps:F3}");
            }

            text.Append(CultureInfo.InvariantCulture, $",NAME=\"{Rendition}\"\n{Rendition}/{variantFile}\n");
            return text.ToString();
        }
    }

    /// <summary>The last part published, for the other renditions' <c>EXT-X-RENDITION-REPORT</c>; null before any.</summary>
    public (long Msn, int Part)? LastPart()
    {
        lock (_lock)
        {
            for (var i = _segments.Count - 1; i >= 0; i--)
            {
                if (_segments[i].Parts.Count > 0)
                {
                    return (_segments[i].Msn, _segments[i].Parts.Count - 1);
                }
            }

            return null;
        }
    }

    /// <summary>Whether part <paramref name="part"/> of segment <paramref name="msn"/> exists (or the segment is complete).</summary>
    private bool Has(long msn, int part)
    {
        var segment = _segments.Find(s => s.Msn == msn);
        return segment is not null && (segment.Complete || segment.Parts.Count > part);
    }

    /// <summary>The part being written, when it is part <paramref name="part"/> of segment <paramref name="msn"/> and has a chunk.</summary>
    private OpenPart? Open(long msn, int part) =>
        _segments.Count > 0 && _segments[^1] is { Open: { } open } last && last.Msn == msn && last.Parts.Count == part ? open : null;

    /// <summary>What a streamed part's reader gets next: the bytes after the <c>sent</c> first ones, whether the part is complete, and what to await for more.</summary>
    public readonly record struct PartRead(bool Found, bool Complete, IReadOnlyList<ReadOnlyMemory<byte>> Data, Task Changed);

    /// <summary>
    /// Part <paramref name="part"/> of segment <paramref name="msn"/> past its first <paramref name="sent"/> bytes: of
    /// the chunks written so far while it is open, of the whole part once it is complete (its bytes are its chunks
    /// joined, so the offset carries over). Not found once it has left the memory window, or when it never got a chunk.
    /// </summary>
    public PartRead ReadPart(long msn, int part, long sent)
    {
        lock (_lock)
        {
            var segment = _segments.Find(s => s.Msn == msn);
            if (segment is not null && part < segment.Parts.Count)
            {
                var bytes = segment.Parts[part].Bytes;
                return new PartRead(true, true, sent < bytes.Length ? [bytes.AsMemory((int)sent)] : [], Task.CompletedTask);
            }

            if (Open(msn, part) is not { } open)
            {
                return new PartRead(false, false, [], Task.CompletedTask);
            }

            var data = new List<ReadOnlyMemory<byte>>();
            long offset = 0;
            foreach (var chunk in open.Chunks)
            {
                if (offset >= sent)
                {
                    data.Add(chunk);
                }

                offset += chunk.Length;
            }

            return new PartRead(true, false, data, _chunked.Task);
        }
    }

    /// <summary>Next (msn, part) to be published: where the preload hint points and how far ahead a request may ask.</summary>
    private (long Msn, int Part) Next()
    {
        if (_segments.Count == 0)
        {
            return (0, 0);
        }

        var last = _segments[^1];
        return last.Complete ? (last.Msn + 1, 0) : (last.Msn, last.Parts.Count);
    }

    public enum WaitResult
    {
        Ready,
        TooFarAhead,
        TimedOut,
    }

    /// <summary>How long a request waits for a part, a segment or the rest of a streamed part: about three target durations.</summary>
    public TimeSpan WaitLimit => TimeSpan.FromSeconds(3 * TargetDuration);

    /// <summary>
    /// Waits until part <paramref name="part"/> of media sequence <paramref name="msn"/> exists (a whole segment when
    /// <paramref name="part"/> is null), at most <see cref="WaitLimit"/>; with <paramref name="started"/>, only until
    /// the part's first chunk is written (<see cref="ReadPart"/> then streams it). Far future requests fail at once.
    /// </summary>
    public async Task<WaitResult> WaitForAsync(long msn, int? part, CancellationToken ct, bool started = false)
    {
        var deadline = _time.GetUtcNow() + WaitLimit;
        while (true)
        {
            Task signal;
            lock (_lock)
            {
                var (nextMsn, _) = Next();
                if (msn > nextMsn + 2)
                {
                    return WaitResult.TooFarAhead;
                }

                if (part is { } p ? Has(msn, p) || (started && Open(msn, p) is not null) : _segments.Exists(s => s.Msn == msn && s.Complete))
                {
                    return WaitResult.Ready;
                }

                if (_ended)
                {
                    return WaitResult.TimedOut;
                }

                signal = started ? _chunked.Task : _changed.Task;
            }

            var left = deadline - _time.GetUtcNow();
            if (left <= TimeSpan.Zero)
            {
                return WaitResult.TimedOut;
            }

            _metrics.BlockedRequests.Add(1);
            try
            {
                await signal.WaitAsync(left, _time, ct);
            }
            catch (TimeoutException)
            {
                return WaitResult.TimedOut;
            }
            finally
            {
                _metrics.BlockedRequests.Add(-1);
            }
        }
    }

    /// <summary>
    /// The live media playlist; with <paramref name="skip"/>, a delta update leaving out old segments. Each of
    /// <paramref name="reports"/> (the session's other renditions, read before this one's lock is taken) becomes an
    /// <c>EXT-X-RENDITION-REPORT</c>, so a player switching renditions knows where the other one's live edge is.
    /// </summary>
    public string? MediaPlaylist(bool skip, IReadOnlyList<RenditionReport>? reports = null)
    {
        reports ??= [];
        lock (_lock)
        {
            // Thousands of players blocking on the same part wake together and ask for the same text: rendered once per
            // version of the playlist (and per rendition reports), then served from here.
            ref var cached = ref _rendered[skip ? 1 : 0];
            if (cached.Text is not null && cached.Version == _version && SameReports(cached.Reports, reports))
            {
                return cached.Text;
            }

            var text = Render(skip, reports);
            cached = (_version, [.. reports], text);
            return text;
        }
    }

    private static bool SameReports(RenditionReport[] cached, IReadOnlyList<RenditionReport> reports)
    {
        if (cached.Length != reports.Count)
        {
            return false;
        }

        for (var i = 0; i < cached.Length; i++)
        {
            if (cached[i] != reports[i])
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>The playlist text of the current version (under the lock).</summary>
    private string? Render(bool skip, IReadOnlyList<RenditionReport>? reports)
    {
        if (!_segments.Any(s => s.Complete))
        {
            return null;
        }

        var target = TargetDuration;
        var skipUntil = 6.0 * target;
        var complete = _segments.Where(s => s.Complete).ToList();
        var window = complete.Skip(Math.Max(0, complete.Count - _options.LiveWindowSegments)).ToList();
        if (_segments[^1] is { Complete: false } open)
        {
            window.Add(open);
        }

        var text = new StringBuilder("#EXTM3U\n#EXT-X-VERSION:9\n");
        text.Append(CultureInfo.InvariantCulture, $"#EXT-X-TARGETDURATION:{target}\n");
        text.Append(CultureInfo.InvariantCulture, $"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL={skipUntil:0.0##},PART-HOLD-BACK={Math.Ceiling(3000 * PartTarget) / 1000:0.0##}\n");
        text.Append(CultureInfo.InvariantCulture, $"#EXT-X-PART-INF:PART-TARGET={PartTarget:0.0##}\n");
        text.Append(CultureInfo.InvariantCulture, $"#EXT-X-MEDIA-SEQUENCE:{window[0].Msn}\n");
        var discontinuities = _segments.TakeWhile(s => s != window[0]).Count(s => s.Discontinuity) + (window[0].Discontinuity ? 1 : 0);
        if (discontinuities > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $"#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuities}\n");
        }

        // Segments older than CAN-SKIP-UNTIL from the live edge may be skipped in a delta update.
        var skipped = 0;
        if (skip)
        {
            var fromEnd = 0.0;
            for (var i = window.Count - 1; i >= 0; i--)
            {
                fromEnd += window[i].Duration;
                if (fromEnd > skipUntil)
                {
                    skipped = i + 1;
                    break;
                }
            }

            // The skipped range must not hide a change of init segment or a discontinuity.
            while (skipped > 0 && window.Skip(1).Take(skipped).Any(s => s.Run != window[0].Run))
            {
                skipped--;
            }
        }

        if (skipped > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $"#EXT-X-SKIP:SKIPPED-SEGMENTS={skipped}\n");
        }

        var lastRun = -1;
        // Parts are listed only for segments wholly within three target durations of the playlist's end (RFC 8216bis
        // 4.4.4.9: older EXT-X-PART tags must be removed).
        var partsFrom = window.Count;
        for (var fromEnd = 0.0; partsFrom > 0 && fromEnd + window[partsFrom - 1].Duration <= 3 * target + 0.001;)
        {
            fromEnd += window[--partsFrom].Duration;
        }

        // and never for more than the last three entries (short segments at a restart would otherwise add more).
        partsFrom = Math.Max(partsFrom, window.Count - 3);

        for (var i = skipped; i < window.Count; i++)
        {
            var segment = window[i];
            if (segment.Run != lastRun)
            {
                if (lastRun >= 0 || (i > 0 && segment.Discontinuity))
                {
                    text.Append("#EXT-X-DISCONTINUITY\n");
                }

                text.Append(CultureInfo.InvariantCulture, $"#EXT-X-MAP:URI=\"{InitName(segment.Run)}\"\n");
                lastRun = segment.Run;
            }

            text.Append(CultureInfo.InvariantCulture, $"#EXT-X-PROGRAM-DATE-TIME:{segment.ProgramDateTime.UtcDateTime:yyyy-MM-ddTHH:mm:ss.fffZ}\n");
            if (i >= partsFrom)
            {
                for (var p = 0; p < segment.Parts.Count; p++)
                {
                    var part = segment.Parts[p];
                    text.Append(CultureInfo.InvariantCulture, $"#EXT-X-PART:DURATION={part.Duration:F5},URI=\"{PartName(segment.Msn, p)}\"{(part.Independent ? ",INDEPENDENT=YES" : "")}\n");
                }
            }

            if (segment.Gap)
            {
                text.Append("#EXT-X-GAP\n");
            }

            if (segment.Complete)
            {
                text.Append(CultureInfo.InvariantCulture, $"#EXTINF:{segment.Duration:F5},\n{SegmentName(segment.Msn)}\n");
            }
        }

        if (_ended)
        {
            text.Append("#EXT-X-ENDLIST\n");
        }
        else
        {
            var (nextMsn, nextPart) = Next();
            text.Append(CultureInfo.InvariantCulture, $"#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{PartName(nextMsn, nextPart)}\"\n");
            foreach (var report in reports ?? [])
            {
                text.Append(CultureInfo.InvariantCulture, $"#EXT-X-RENDITION-REPORT:URI=\"../{report.Rendition}/{HlsPackager.LiveFile}\",LAST-MSN={report.LastMsn},LAST-PART={report.LastPart}\n");
            }
        }

        return text.ToString();
    }

    /// <summary>A part, a whole segment (its parts joined) or an init segment from memory; null when not held.</summary>
    public byte[]? Media(string file)
    {
        lock (_lock)
        {
            if (TryParseInit(file, out var run))
            {
                return _inits.GetValueOrDefault(run);
            }

            if (!TryParseMedia(file, out var msn, out var part))
            {
                return null;
            }

            var segment = _segments.Find(s => s.Msn == msn);
            if (segment is null)
            {
                return null;
            }

            if (part is { } p)
            {
                return p < segment.Parts.Count ? segment.Parts[p].Bytes : null;
            }

            if (!segment.Complete || segment.Parts.Count == 0)
            {
                return null;
            }

            var joined = new byte[segment.Parts.Sum(x => x.Bytes.Length)];
            var offset = 0;
            foreach (var x in segment.Parts)
            {
                x.Bytes.CopyTo(joined, offset);
                offset += x.Bytes.Length;
            }

            return joined;
        }
    }

    internal static string InitName(int run) => $"init{run:D3}.mp4";

    internal static string SegmentName(long msn) => $"c{msn:D6}.m4s";

    internal static string PartName(long msn, int part) => $"c{msn:D6}.{part}.m4s";

    internal static bool TryParseInit(string file, out int run)
    {
        run = 0;
        return file.Length == 11 && file.StartsWith("init", StringComparison.Ordinal) && file.EndsWith(".mp4", StringComparison.Ordinal)
            && int.TryParse(file.AsSpan(4, 3), NumberStyles.None, CultureInfo.InvariantCulture, out run);
    }

    /// <summary>c000012.m4s (a segment) or c000012.3.m4s (its part 3).</summary>
    internal static bool TryParseMedia(string file, out long msn, out int? part)
    {
        msn = 0;
        part = null;
        if (file.Length < 11 || file[0] != 'c' || !file.EndsWith(".m4s", StringComparison.Ordinal)
            || !long.TryParse(file.AsSpan(1, 6), NumberStyles.None, CultureInfo.InvariantCulture, out msn))
        {
            return false;
        }

        if (file.Length == 11)
        {
            return true;
        }

        if (file[7] != '.' || !int.TryParse(file.AsSpan(8, file.Length - 12), NumberStyles.None, CultureInfo.InvariantCulture, out var p))
        {
            return false;
        }

        part = p;
        return true;
    }

    private const string RunTag = "#X-PASAR-RUN:";
    private const string SegmentTag = "#X-PASAR-SEGMENT:";

    private void AppendRecording(string text)
    {
        var path = Path.Combine(_directory, Rendition, RecordingFile);
        try
        {
            File.AppendAllText(path, File.Exists(path) ? text : "#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-PLAYLIST-TYPE:EVENT\n" + text);
        }
        catch (IOException)
        {
            // This node's replay still has the segment (from memory); only a restart before the end would miss it.
            _metrics.PackagingFailures.Add(1, new KeyValuePair<string, object?>("stage", "write-recording"));
        }
    }

    /// <summary>
    /// After a restart: the segments recorded before it come back (as complete segments with no parts in memory), so
    /// that the next run continues the numbering after them, with a new init segment and a discontinuity, and the
    /// replay holds the whole show. A segment file on disk past the recording (the node died between writing it and
    /// noting it) is skipped over, never overwritten.
    /// </summary>
    private void Recover()
    {
        var folder = Path.Combine(_directory, Rendition);
        foreach (var file in Directory.EnumerateFiles(folder).Select(Path.GetFileName))
        {
            if (TryParseMedia(file!, out var msn, out _))
            {
                _nextMsnFloor = Math.Max(_nextMsnFloor, msn + 1);
            }
            else if (TryParseInit(file!, out var run))
            {
                _run = Math.Max(_run, run);
            }
        }

        var path = Path.Combine(folder, RecordingFile);
        if (!File.Exists(path))
        {
            return;
        }

        var discontinuity = false;
        var segmentRun = 0;
        long bytes = 0;
        var programDateTime = DateTimeOffset.MinValue;
        var duration = 0.0;
        foreach (var line in File.ReadLines(path))
        {
            if (line.StartsWith(RunTag, StringComparison.Ordinal))
            {
                var comma = line.IndexOf(',', StringComparison.Ordinal);
                _run = Math.Max(_run, int.Parse(line.AsSpan(RunTag.Length, comma - RunTag.Length), CultureInfo.InvariantCulture));
                if (System.Text.Json.JsonSerializer.Deserialize<StreamInfo>(line.AsSpan(comma + 1), System.Text.Json.JsonSerializerOptions.Web) is { } info)
                {
                    (VideoCodecs, AudioCodecs, Width, Height, FrameRate) = (info.VideoCodecs, info.AudioCodecs, info.Width, info.Height, info.FrameRate);
                }
            }
            else if (line == "#EXT-X-DISCONTINUITY")
            {
                discontinuity = true;
            }
            else if (line.StartsWith(SegmentTag, StringComparison.Ordinal))
            {
                var comma = line.IndexOf(',', StringComparison.Ordinal);
                segmentRun = int.Parse(line.AsSpan(SegmentTag.Length, comma - SegmentTag.Length), CultureInfo.InvariantCulture);
                bytes = long.Parse(line.AsSpan(comma + 1), CultureInfo.InvariantCulture);
            }
            else if (line.StartsWith("#EXT-X-PROGRAM-DATE-TIME:", StringComparison.Ordinal))
            {
                programDateTime = DateTimeOffset.Parse(line.AsSpan(25), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
            }
            else if (line.StartsWith("#EXTINF:", StringComparison.Ordinal))
            {
                duration = double.Parse(line.AsSpan(8, line.IndexOf(',', StringComparison.Ordinal) - 8), CultureInfo.InvariantCulture);
            }
            else if (TryParseMedia(line, out var msn, out var part) && part is null)
            {
                _segments.Add(new Segment(msn, segmentRun, discontinuity, programDateTime) { Duration = duration, Complete = true, Bytes = bytes });
                _totalBytes += bytes;
                _totalSeconds += duration;
                if (duration >= 0.5)
                {
                    _peakBitsPerSecond = Math.Max(_peakBitsPerSecond, bytes * 8 / duration);
                }

                _maxSegmentSeconds = Math.Max(_maxSegmentSeconds, (int)Math.Ceiling(duration - 0.001));
                _nextMsnFloor = Math.Max(_nextMsnFloor, msn + 1);
                discontinuity = false;
            }
        }
    }

    private sealed record StreamInfo(string? VideoCodecs, string? AudioCodecs, int Width, int Height, double? FrameRate);

    private void WriteFile(string name, byte[] bytes)
    {
        try
        {
            File.WriteAllBytes(Path.Combine(_directory, Rendition, name), bytes);
            _uploader?.Enqueue(_sessionId, Rendition, name);
        }
        catch (IOException)
        {
            _metrics.PackagingFailures.Add(1, new KeyValuePair<string, object?>("stage", "write-init"));
        }
    }

    private void Signal()
    {
        _version++;
        var previous = _changed;
        _changed = NewSignal();
        previous.TrySetResult();
        var chunked = _chunked;
        _chunked = NewSignal();
        chunked.TrySetResult();
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private sealed record Part(byte[] Bytes, double Duration, bool Independent);

    /// <summary>The part being written: its chunks so far; joined into a <see cref="Part"/> when it closes.</summary>
    private sealed class OpenPart(bool independent)
    {
        public bool Independent { get; } = independent;
        public List<byte[]> Chunks { get; } = [];
    }

    /// <summary>Where another rendition's live edge is: its last part.</summary>
    public sealed record RenditionReport(string Rendition, long LastMsn, int LastPart);

    private sealed class Segment(long msn, int run, bool discontinuity, DateTimeOffset programDateTime)
    {
        public long Msn { get; } = msn;
        public int Run { get; } = run;
        public bool Discontinuity { get; } = discontinuity;
        public DateTimeOffset ProgramDateTime { get; set; } = programDateTime;
        public List<Part> Parts { get; } = [];
        public OpenPart? Open { get; set; }

        /// <summary>An <c>EXT-X-GAP</c> entry: a rung has no pictures for this passthrough segment (never recorded, never served).</summary>
        public bool Gap { get; init; }
        public double Duration { get; set; }
        public bool Complete { get; set; }
        public long Bytes { get; set; }
        public string? Unrecorded { get; set; }

        /// <summary>The decode time (video timescale) of the segment's first frame; null for a segment recovered from disk.</summary>
        public long? Start { get; init; }
    }
}
