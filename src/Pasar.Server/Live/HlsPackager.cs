using System.Globalization;
using System.Text;
using System.Text.Json;

namespace Pasar.Server.Live;

/// <summary>One rendition of a session's HLS: the passthrough source, or a rung of the ladder.</summary>
internal sealed class RenditionInfo
{
    public const string SourceName = "source";

    public string Name { get; set; } = SourceName;

    /// <summary>Null for the passthrough rendition.</summary>
    public string? Rung { get; set; }

    public int VideoKbps { get; set; }
    public int Width { get; set; }
    public int Height { get; set; }
    public double? FrameRate { get; set; }

    /// <summary>RFC 6381 video codec (<c>avc1.PPCCLL</c>): from the publisher's AVC configuration, or read from a produced segment.</summary>
    public string? VideoCodecs { get; set; }

    public string? AudioCodecs { get; set; }

    public bool IsSource => Rung is null;
}

internal sealed record HlsSegment(int Run, string File, double Duration, long Bytes, bool Discontinuity);

/// <summary>
/// Pasar's own playlists for one session. ffmpeg writes segments and a private playlist per run
/// (<c>{rendition}/_rNNN.m3u8</c>); this class picks new segments up, appends them to the session's recording,
/// and writes the live playlists (a sliding window, with a discontinuity where a run starts), the master
/// playlist (CODECS, RESOLUTION, FRAME-RATE and a BANDWIDTH measured from the segments) and, at the end, the
/// replay as VOD playlists. A new run (publisher reconnect, ffmpeg restart) continues the same playlists.
/// </summary>
internal sealed class HlsPackager : IAsyncDisposable
{
    public const string MasterFile = "master.m3u8";
    public const string ReplayFile = "replay.m3u8";
    public const string LiveFile = "index.m3u8";
    private const string RecordingFile = "recording.m3u8";
    private const string RenditionsFile = "renditions.json";

    private readonly object _lock = new();
    private readonly Dictionary<string, RenditionTrack> _tracks = new(StringComparer.Ordinal);
    private readonly SortedDictionary<int, RunState> _runs = [];
    private readonly LiveOptions _options;
    private readonly LiveMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stop = new();
    private Task? _pollLoop;
    private int _lastRun;
    private bool _finalized;
    private string? _lastMaster;

    private readonly Storage.RecordingUploader? _uploader;

    public HlsPackager(string sessionId, string directory, LiveOptions options, LiveMetrics metrics, TimeProvider time, ILogger logger, Storage.RecordingUploader? uploader = null)
    {
        _uploader = uploader;
        SessionId = sessionId;
        Directory = directory;
        _options = options;
        _metrics = metrics;
        _time = time;
        _logger = logger;
        Recover();
    }

    public string SessionId { get; }
    public string Directory { get; }

    /// <summary>The renditions of this session, decided at its first run (empty until then).</summary>
    public IReadOnlyList<RenditionInfo> Renditions
    {
        get
        {
            lock (_lock)
            {
                return [.. _tracks.Values.Select(t => t.Info)];
            }
        }
    }

    /// <summary>Segments recorded so far for a rendition.</summary>
    public IReadOnlyList<HlsSegment> Segments(string rendition)
    {
        lock (_lock)
        {
            return _tracks.TryGetValue(rendition, out var track) ? [.. track.Segments] : [];
        }
    }

    public bool HasRecording
    {
        get
        {
            lock (_lock)
            {
                return _tracks.Values.Any(t => t.Segments.Count > 0);
            }
        }
    }

    /// <summary>
    /// Starts run number N+1 with the given renditions (the first run fixes the set; later ones may update the
    /// source's codecs and size). Returns the run number ffmpeg's file names carry.
    /// </summary>
    public int BeginRun(IReadOnlyList<RenditionInfo> renditions)
    {
        lock (_lock)
        {
            ObjectDisposedException.ThrowIf(_finalized, this);
            foreach (var info in renditions)
            {
                if (_tracks.TryGetValue(info.Name, out var track))
                {
                    if (!info.IsSource && info.VideoCodecs is null)
                    {
                        // Same encoder settings as the last run: keep what its segments said until this run's first one.
                        info.VideoCodecs = track.Info.VideoCodecs;
                        info.Width = track.Info.Width;
                        info.Height = track.Info.Height;
                    }

                    track.Info = info;
                }
                else
                {
                    _tracks[info.Name] = new RenditionTrack(info);
                }

                System.IO.Directory.CreateDirectory(Path.Combine(Directory, info.Name));
            }

            var run = ++_lastRun;
            _runs[run] = new RunState(_time.GetUtcNow(), [.. renditions.Select(r => r.Name)]);
            _pollLoop ??= Task.Run(() => PollLoopAsync(_stop.Token));
            return run;
        }
    }

    /// <summary>The run's ffmpeg has exited: collect what it wrote last, then stop watching it.</summary>
    public void CompleteRun(int run)
    {
        lock (_lock)
        {
            if (_runs.TryGetValue(run, out var state))
            {
                Poll(run, state);
                _runs.Remove(run);
            }
        }
    }

    /// <summary>The session ended: stop watching, close the live playlists and write the replay.</summary>
    public async Task FinalizeAsync()
    {
        await _stop.CancelAsync();
        if (_pollLoop is not null)
        {
            await _pollLoop;
        }

        lock (_lock)
        {
            if (_finalized)
            {
                return;
            }

            foreach (var (run, state) in _runs)
            {
                Poll(run, state);
            }

            _runs.Clear();
            _finalized = true;
            if (!_tracks.Values.Any(t => t.Segments.Count > 0))
            {
                return;
            }

            foreach (var track in _tracks.Values.Where(t => t.Segments.Count > 0))
            {
                WriteAtomically(Path.Combine(Directory, track.Info.Name, LiveFile), MediaPlaylist(track, live: true, ended: true));
                WriteAtomically(Path.Combine(Directory, track.Info.Name, ReplayFile), MediaPlaylist(track, live: false, ended: true));
            }

            WriteMaster(force: true);
            WriteAtomically(Path.Combine(Directory, ReplayFile), MasterPlaylist(ReplayFile));
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        if (_pollLoop is not null)
        {
            await _pollLoop;
        }

        _stop.Dispose();
    }

    private async Task PollLoopAsync(CancellationToken ct)
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(200), _time);
        try
        {
            while (await timer.WaitForNextTickAsync(ct))
            {
                lock (_lock)
                {
                    foreach (var (run, state) in _runs)
                    {
                        Poll(run, state);
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Reads ffmpeg's private playlists of one run and records segments not seen yet. Holds the lock.</summary>
    private void Poll(int run, RunState state)
    {
        var changed = false;
        foreach (var name in state.Renditions)
        {
            if (!_tracks.TryGetValue(name, out var track))
            {
                continue;
            }

            var path = Path.Combine(Directory, name, PrivatePlaylistName(run));
            string text;
            try
            {
                if (!File.Exists(path))
                {
                    continue;
                }

                text = File.ReadAllText(path);
            }
            catch (IOException)
            {
                continue;
            }

            foreach (var (sequence, file, duration) in ParseMediaPlaylist(text))
            {
                var last = state.LastSequence.GetValueOrDefault(name, -1);
                if (sequence <= last)
                {
                    continue;
                }

                state.LastSequence[name] = sequence;
                if (track.Segments.Count > 0 && track.Segments[^1].Run > run)
                {
                    _logger.LogWarning("Live {SessionId}: dropped a late segment {File} of run {Run}", SessionId, file, run);
                    continue;
                }

                long bytes;
                try
                {
                    bytes = new FileInfo(Path.Combine(Directory, name, file)).Length;
                }
                catch (IOException)
                {
                    continue;
                }

                var discontinuity = track.Segments.Count > 0 && track.Segments[^1].Run != run;
                var segment = new HlsSegment(run, file, duration, bytes, discontinuity);
                track.Add(segment);
                if (!track.Info.IsSource && track.Info.VideoCodecs is null && TsVideoProbe.TryRead(Path.Combine(Directory, name, file), out var probed))
                {
                    track.Info.VideoCodecs = probed.Codecs;
                    track.Info.Width = probed.Width;
                    track.Info.Height = probed.Height;
                }

                AppendRecording(track, segment);
                _uploader?.Enqueue(SessionId, name, file);
                WriteAtomically(Path.Combine(Directory, name, LiveFile), MediaPlaylist(track, live: true, ended: false));

                // How old the segment's newest frame is when it becomes visible: the run's first frame arrived at
                // state.StartedAt and the publisher sends in real time, so its content ends at StartedAt + duration.
                state.Elapsed[name] = state.Elapsed.GetValueOrDefault(name) + duration;
                var lag = (_time.GetUtcNow() - state.StartedAt).TotalSeconds - state.Elapsed[name];
                _metrics.SegmentLag.Record(Math.Max(0, lag), new KeyValuePair<string, object?>("rendition", name));
                changed = true;
            }
        }

        if (changed)
        {
            WriteMaster(force: false);
        }
    }

    /// <summary>The master playlist appears once every rendition has a segment (or the source has two), then follows the measured bandwidth.</summary>
    private void WriteMaster(bool force)
    {
        var ready = _tracks.Values.All(t => t.Segments.Count > 0)
            || (_tracks.TryGetValue(RenditionInfo.SourceName, out var source) && source.Segments.Count >= 2);
        if (!ready && !force)
        {
            return;
        }

        var master = MasterPlaylist(LiveFile);
        if (master != _lastMaster)
        {
            WriteAtomically(Path.Combine(Directory, MasterFile), master);
            WriteAtomically(Path.Combine(Directory, RenditionsFile), JsonSerializer.Serialize(_tracks.Values.Select(t => t.Info).ToList(), JsonSerializerOptions.Web));
            _lastMaster = master;
        }
    }

    private string MasterPlaylist(string variantFile)
    {
        var text = new StringBuilder("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n");
        foreach (var track in _tracks.Values.Where(t => t.Segments.Count > 0).OrderByDescending(t => t.Info.Height).ThenBy(t => t.Info.IsSource ? 0 : 1))
        {
            var info = track.Info;
            var codecs = string.Join(",", new[] { info.VideoCodecs, info.AudioCodecs }.Where(c => c is not null));
            text.Append(CultureInfo.InvariantCulture, $"#EXT-X-STREAM-INF:BANDWIDTH={track.PeakBitsPerSecond},AVERAGE-BANDWIDTH={track.AverageBitsPerSecond}");
            if (codecs.Length > 0)
            {
                text.Append(CultureInfo.InvariantCulture, $",CODECS=\"{codecs}\"");
            }

            if (info.Width > 0 && info.Height > 0)
            {
                text.Append(CultureInfo.InvariantCulture, $",RESOLUTION={info.Width}x{info.Height}");
            }

            if (info.FrameRate is { } fps)
            {
                text.Append(CultureInfo.InvariantCulture, $",FRAME-RATE={fps:F3}");
            }

            text.Append(CultureInfo.InvariantCulture, $",NAME=\"{info.Name}\"\n{info.Name}/{variantFile}\n");
        }

        return text.ToString();
    }

    private string MediaPlaylist(RenditionTrack track, bool live, bool ended)
    {
        var segments = track.Segments;
        var first = live ? Math.Max(0, segments.Count - _options.LiveWindowSegments) : 0;
        // The discontinuity sequence number of the window's first segment; its own tag is then left out.
        var discontinuitiesBefore = segments.Take(first + 1).Count(s => s.Discontinuity);
        var target = (int)Math.Ceiling(segments.Count == 0 ? _options.SegmentSeconds : segments.Max(s => s.Duration) - 0.001);
        var text = new StringBuilder("#EXTM3U\n#EXT-X-VERSION:3\n");
        text.Append(CultureInfo.InvariantCulture, $"#EXT-X-TARGETDURATION:{Math.Max(1, target)}\n");
        if (!live)
        {
            text.Append("#EXT-X-PLAYLIST-TYPE:VOD\n");
        }

        text.Append(CultureInfo.InvariantCulture, $"#EXT-X-MEDIA-SEQUENCE:{first}\n");
        if (discontinuitiesBefore > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $"#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuitiesBefore}\n");
        }

        for (var i = first; i < segments.Count; i++)
        {
            var segment = segments[i];
            if (segment.Discontinuity && i > first)
            {
                text.Append("#EXT-X-DISCONTINUITY\n");
            }

            text.Append(CultureInfo.InvariantCulture, $"#EXTINF:{segment.Duration:F6},\n{segment.File}\n");
        }

        if (ended)
        {
            text.Append("#EXT-X-ENDLIST\n");
        }

        return text.ToString();
    }

    private void AppendRecording(RenditionTrack track, HlsSegment segment)
    {
        var path = Path.Combine(Directory, track.Info.Name, RecordingFile);
        var text = new StringBuilder();
        if (!File.Exists(path))
        {
            text.Append("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-PLAYLIST-TYPE:EVENT\n");
        }

        if (segment.Discontinuity)
        {
            text.Append("#EXT-X-DISCONTINUITY\n");
        }

        text.Append(CultureInfo.InvariantCulture, $"#EXTINF:{segment.Duration:F6},\n{segment.File}\n");
        File.AppendAllText(path, text.ToString());
    }

    /// <summary>After a server restart, picks the recording up from disk so that the session's playlists continue.</summary>
    private void Recover()
    {
        var renditionsPath = Path.Combine(Directory, RenditionsFile);
        if (!File.Exists(renditionsPath))
        {
            return;
        }

        try
        {
            var infos = JsonSerializer.Deserialize<List<RenditionInfo>>(File.ReadAllText(renditionsPath), JsonSerializerOptions.Web) ?? [];
            foreach (var info in infos)
            {
                var track = new RenditionTrack(info);
                var recording = Path.Combine(Directory, info.Name, RecordingFile);
                if (File.Exists(recording))
                {
                    var discontinuity = false;
                    var duration = 0.0;
                    foreach (var line in File.ReadLines(recording))
                    {
                        if (line.StartsWith("#EXT-X-DISCONTINUITY", StringComparison.Ordinal) && !line.StartsWith("#EXT-X-DISCONTINUITY-", StringComparison.Ordinal))
                        {
                            discontinuity = true;
                        }
                        else if (line.StartsWith("#EXTINF:", StringComparison.Ordinal))
                        {
                            duration = double.Parse(line.AsSpan(8, line.IndexOf(',', StringComparison.Ordinal) - 8), CultureInfo.InvariantCulture);
                        }
                        else if (line.Length > 0 && !line.StartsWith('#') && TryParseRun(line, out var run))
                        {
                            var file = Path.Combine(Directory, info.Name, line);
                            track.Add(new HlsSegment(run, line, duration, File.Exists(file) ? new FileInfo(file).Length : 0, discontinuity));
                            _lastRun = Math.Max(_lastRun, run);
                            discontinuity = false;
                        }
                    }
                }

                _tracks[info.Name] = track;
            }
        }
        catch (Exception ex) when (ex is IOException or JsonException or FormatException)
        {
            _logger.LogWarning(ex, "Live {SessionId}: could not recover the recording", SessionId);
        }
    }

    internal static string PrivatePlaylistName(int run) => $"_r{run:D3}.m3u8";

    internal static string SegmentPattern(int run) => $"r{run:D3}_%05d.ts";

    private static bool TryParseRun(string file, out int run) =>
        int.TryParse(file.AsSpan(1, 3), NumberStyles.None, CultureInfo.InvariantCulture, out run) && file[0] == 'r';

    /// <summary>(media sequence number, file, duration) of every segment of an ffmpeg media playlist.</summary>
    internal static IEnumerable<(long Sequence, string File, double Duration)> ParseMediaPlaylist(string text)
    {
        long sequence = 0;
        double? duration = null;
        foreach (var raw in text.Split('\n'))
        {
            var line = raw.Trim();
            if (line.StartsWith("#EXT-X-MEDIA-SEQUENCE:", StringComparison.Ordinal))
            {
                sequence = long.Parse(line.AsSpan(22), NumberStyles.None, CultureInfo.InvariantCulture);
            }
            else if (line.StartsWith("#EXTINF:", StringComparison.Ordinal))
            {
                var comma = line.IndexOf(',', StringComparison.Ordinal);
                duration = double.Parse(comma < 0 ? line.AsSpan(8) : line.AsSpan(8, comma - 8), CultureInfo.InvariantCulture);
            }
            else if (line.Length > 0 && !line.StartsWith('#') && duration is { } d)
            {
                yield return (sequence++, line, d);
                duration = null;
            }
        }
    }

    internal static void WriteAtomically(string path, string content)
    {
        var temp = path + ".tmp";
        File.WriteAllText(temp, content);
        File.Move(temp, path, overwrite: true);
    }

    private sealed class RunState(DateTimeOffset startedAt, string[] renditions)
    {
        public DateTimeOffset StartedAt { get; } = startedAt;
        public string[] Renditions { get; } = renditions;
        public Dictionary<string, long> LastSequence { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, double> Elapsed { get; } = new(StringComparer.Ordinal);
    }

    private sealed class RenditionTrack(RenditionInfo info)
    {
        private double _totalSeconds;
        private long _totalBytes;
        private double _peak;

        public RenditionInfo Info { get; set; } = info;
        public List<HlsSegment> Segments { get; } = [];

        public long AverageBitsPerSecond => _totalSeconds <= 0 ? 0 : (long)Math.Round(_totalBytes * 8 / _totalSeconds);

        /// <summary>HLS BANDWIDTH is the peak segment bit rate; very short segments (the tail of a run) are left out of the peak.</summary>
        public long PeakBitsPerSecond => (long)Math.Round(Math.Max(_peak, AverageBitsPerSecond));

        public void Add(HlsSegment segment)
        {
            Segments.Add(segment);
            _totalSeconds += segment.Duration;
            _totalBytes += segment.Bytes;
            if (segment.Duration >= 0.5 && segment.Bytes > 0)
            {
                _peak = Math.Max(_peak, segment.Bytes * 8 / segment.Duration);
            }
        }
    }
}
