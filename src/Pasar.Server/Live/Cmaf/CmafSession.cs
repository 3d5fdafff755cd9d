using System.Text;

namespace Pasar.Server.Live.Cmaf;

/// <summary>
/// A live session packaged in-process: the passthrough rendition (from the publisher's frames) and any transcoded
/// rungs (from ffmpeg, <see cref="CmafTranscoder"/>), one <see cref="LowLatencyPackager"/> each. Builds the master
/// playlist over all of them, the rendition reports of each media playlist, and the replay's master at the end.
/// </summary>
internal sealed class CmafSession
{
    /// <summary>How long the master waits for a rung's first segment after the passthrough rendition completed its first.</summary>
    internal static readonly TimeSpan RungGrace = TimeSpan.FromSeconds(6);

    private readonly string _directory;
    private readonly LiveOptions _options;
    private readonly LiveMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly Storage.RecordingUploader? _uploader;
    private readonly object _lock = new();
    private LowLatencyPackager[] _renditions;
    private DateTimeOffset? _sourceReadyAt;

    public CmafSession(string directory, LiveOptions options, LiveMetrics metrics, TimeProvider time, Storage.RecordingUploader? uploader)
    {
        _directory = directory;
        _options = options;
        _metrics = metrics;
        _time = time;
        _uploader = uploader;
        Source = new LowLatencyPackager(directory, options, metrics, time, uploader);

        // After a restart, the rungs recorded before it come back with their recordings too (for the replay).
        var rungs = Directory.Exists(directory)
            ? Directory.EnumerateDirectories(directory).Select(Path.GetFileName).OfType<string>()
                .Where(name => name != RenditionInfo.SourceName && LowLatencyPackager.HasRecording(directory, name))
                .Order(StringComparer.Ordinal)
                .Select(name => new LowLatencyPackager(directory, options, metrics, time, uploader, name) { Follow = Source })
            : [];
        _renditions = [Source, .. rungs];
    }

    /// <summary>Whether a session folder holds an in-process recording (a node restarted mid-show or before the replay).</summary>
    public static bool HasRecording(string directory) => LowLatencyPackager.HasRecording(directory);

    /// <summary>The passthrough rendition.</summary>
    public LowLatencyPackager Source { get; }

    public IReadOnlyList<LowLatencyPackager> Renditions => Volatile.Read(ref _renditions);

    /// <summary>Completed segments of the passthrough rendition (tests).</summary>
    public int SegmentCount => Source.SegmentCount;

    /// <summary>The packager of a transcoded rung, created on first use; its segments follow the passthrough rendition's.</summary>
    public LowLatencyPackager Rung(RenditionInfo rung)
    {
        lock (_lock)
        {
            if (Array.Find(_renditions, r => r.Rendition == rung.Name) is { } existing)
            {
                return existing;
            }

            var packager = new LowLatencyPackager(_directory, _options, _metrics, _time, _uploader, rung.Name)
            {
                Follow = Source,
                ConfiguredKbps = rung.VideoKbps,
            };
            Volatile.Write(ref _renditions, [.. _renditions, packager]);
            return packager;
        }
    }

    public LowLatencyPackager? Find(string rendition) => Array.Find(Volatile.Read(ref _renditions), r => r.Rendition == rendition);

    /// <summary>
    /// The master playlist, once the passthrough rendition has a segment: it lists every rendition with a segment,
    /// waiting up to <see cref="RungGrace"/> for the rungs (ffmpeg's start and encoding delay), so that players see the
    /// whole ladder; a rung that has not produced anything by then is left out. Tallest first, as the TS master was.
    /// </summary>
    public string? Master(string variantFile = HlsPackager.LiveFile)
    {
        var renditions = Renditions;
        if (!Source.HasSegment)
        {
            return null;
        }

        var ready = renditions.Where(r => r.HasSegment).ToList();
        if (ready.Count < renditions.Count)
        {
            // From the passthrough rendition's first segment (not from the first player's request, which may come late).
            var now = _time.GetUtcNow();
            DateTimeOffset since;
            lock (_lock)
            {
                since = Source.FirstSegmentAt ?? (_sourceReadyAt ??= now);
            }

            if (now - since < RungGrace)
            {
                return null;
            }
        }

        var text = new StringBuilder("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
        foreach (var rendition in ready.OrderByDescending(r => r.Height).ThenBy(r => r == Source ? 0 : 1))
        {
            text.Append(rendition.StreamInf(variantFile));
        }

        return text.ToString();
    }

    /// <summary>A rendition's live media playlist with the others' rendition reports.</summary>
    public string? MediaPlaylist(LowLatencyPackager rendition, bool skip)
    {
        var reports = new List<LowLatencyPackager.RenditionReport>();
        foreach (var other in Renditions)
        {
            if (other != rendition && other.LastPart() is { } last)
            {
                reports.Add(new LowLatencyPackager.RenditionReport(other.Rendition, last.Msn, last.Part));
            }
        }

        return rendition.MediaPlaylist(skip, reports);
    }

    public void EndRun()
    {
        foreach (var rendition in Renditions)
        {
            rendition.EndRun();
        }
    }

    /// <summary>The session ended: every rendition's replay, then the replay's master over the renditions that have one.</summary>
    public void Finish()
    {
        var recorded = Renditions.Where(r => r.Finish()).ToList();
        if (recorded.Count == 0)
        {
            return;
        }

        // The replay's master, and the live master's last version (pointing at the ended live playlists).
        foreach (var (master, variant) in new[] { (HlsPackager.ReplayFile, HlsPackager.ReplayFile), (HlsPackager.MasterFile, HlsPackager.LiveFile) })
        {
            var text = new StringBuilder("#EXTM3U\n#EXT-X-VERSION:7\n#EXT-X-INDEPENDENT-SEGMENTS\n");
            foreach (var rendition in recorded.OrderByDescending(r => r.Height).ThenBy(r => r == Source ? 0 : 1))
            {
                text.Append(rendition.StreamInf(variant));
            }

            HlsPackager.WriteAtomically(Path.Combine(_directory, master), text.ToString());
        }
    }
}
