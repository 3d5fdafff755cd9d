using System.Collections.Concurrent;
using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Threading.Channels;
using Dapper;
using Microsoft.Extensions.Options;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Storage;
using Polly;
using Polly.Retry;

namespace Pasar.Server.Live.Storage;

/// <summary>
/// Uploads every completed segment and init segment of every rendition to the object store while a show runs, and
/// its VOD playlists when it ends (ADR 0023). The packagers hand over file names (<see cref="Enqueue"/>, which never
/// blocks); <see cref="Concurrency"/> uploads run at once, each retried with capped exponential backoff for as long as
/// the store is unreachable. A local segment is deleted once it is uploaded and out of the live window, so what is on
/// disk is exactly what is still owed: after a kill -9 the node finds its unfinished sessions in SQL
/// (<c>live_sessions.upload_state</c>) and uploads what its disk holds. With no store configured nothing here runs.
/// </summary>
internal sealed class RecordingUploader : IHostedService, IDisposable
{
    /// <summary>Uploads in flight at once, over all sessions of the node.</summary>
    public const int Concurrency = 4;

    /// <summary>Segments kept on disk behind the live window, for players that fetch a segment just as it leaves the playlist.</summary>
    public const int WindowMargin = 3;

    private static readonly TimeSpan ResumeInterval = TimeSpan.FromSeconds(30);

    private readonly RecordingStore _store;
    private readonly Database _db;
    private readonly LiveOptions _live;
    private readonly string _hlsRoot;
    private readonly TimeProvider _time;
    private readonly ILogger<RecordingUploader> _logger;
    private readonly ConcurrentDictionary<string, SessionUploads> _sessions = new(StringComparer.Ordinal);
    private readonly Channel<Job> _queue = Channel.CreateUnbounded<Job>(new UnboundedChannelOptions { SingleReader = true });
    private readonly SemaphoreSlim _slots = new(Concurrency, Concurrency);
    private readonly CancellationTokenSource _stop = new();
    private readonly ResiliencePipeline _retry;
    private readonly Histogram<double> _lag;
    private readonly Counter<long> _uploads;
    private readonly List<Task> _loops = [];
    private long _backlog;

    public RecordingUploader(RecordingStore store, Database db, IOptions<LiveOptions> live, IOptions<PasarOptions> pasar, PasarMetrics metrics,
        TimeProvider time, ILogger<RecordingUploader> logger)
    {
        _store = store;
        _db = db;
        _live = live.Value;
        _hlsRoot = Path.Combine(pasar.Value.FullDataDir, "hls");
        _time = time;
        _logger = logger;
        _retry = new ResiliencePipelineBuilder { TimeProvider = time }.AddRetry(new RetryStrategyOptions
        {
            ShouldHandle = new PredicateBuilder().Handle<Exception>(ex => ex is not OperationCanceledException || !_stop.IsCancellationRequested),
            MaxRetryAttempts = int.MaxValue,
            BackoffType = DelayBackoffType.Exponential,
            UseJitter = true,
            Delay = TimeSpan.FromMilliseconds(500),
            MaxDelay = TimeSpan.FromSeconds(10),
        }).Build();
        var meter = metrics.Meter;
        meter.CreateObservableGauge("pasar.live.upload.backlog", () => Backlog, description: "Recording files waiting for their upload to the object store");
        _lag = meter.CreateHistogram<double>("pasar.live.upload.lag", unit: "s", description: "Seconds from a segment's completion to its object existing in the store");
        _uploads = meter.CreateCounter<long>("pasar.live.uploads", description: "Recording files uploaded to the object store, by kind");
    }

    public bool Enabled => _store.Enabled;

    public RecordingStore Store => _store;

    /// <summary>Files handed over and not uploaded yet.</summary>
    public long Backlog => Interlocked.Read(ref _backlog);

    /// <summary>Whether the session has files handed over and not uploaded yet (tests).</summary>
    internal int Pending(string sessionId)
    {
        if (!_sessions.TryGetValue(sessionId, out var s))
        {
            return 0;
        }

        lock (s)
        {
            return s.Pending;
        }
    }

    /// <summary>A completed segment or init segment of a rendition, now on disk under the session's folder. Never blocks.</summary>
    public void Enqueue(string sessionId, string rendition, string file)
    {
        if (!Enabled)
        {
            return;
        }

        var session = _sessions.GetOrAdd(sessionId, id => new SessionUploads(id));
        lock (session)
        {
            if (session.Stored || !session.Known.Add(rendition + "/" + file))
            {
                return;
            }

            if (!session.Renditions.TryGetValue(rendition, out var list))
            {
                session.Renditions[rendition] = list = [];
            }

            list.Add(new Entry(file, IsInit(file)));
            session.Pending++;
        }

        Interlocked.Increment(ref _backlog);
        _queue.Writer.TryWrite(new Job(session, rendition, file, Stopwatch.GetTimestamp()));
    }

    /// <summary>The session ended and its replay playlists are on disk: upload what is left, then the playlists.</summary>
    public void Finish(string sessionId)
    {
        if (!Enabled)
        {
            return;
        }

        var session = _sessions.GetOrAdd(sessionId, id => new SessionUploads(id));
        lock (session)
        {
            if (session.Finishing || session.Stored)
            {
                return;
            }

            session.Finishing = true;
        }

        _ = Task.Run(() => FinishAsync(session, _stop.Token));
    }

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (!Enabled)
        {
            return Task.CompletedTask;
        }

        _loops.Add(Task.Run(() => RunQueueAsync(_stop.Token)));
        _loops.Add(Task.Run(() => ResumeLoopAsync(_stop.Token)));
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        await _stop.CancelAsync();
        try
        {
            await Task.WhenAll(_loops).WaitAsync(TimeSpan.FromSeconds(5), cancellationToken);
        }
        catch (Exception ex) when (ex is OperationCanceledException or TimeoutException)
        {
        }
    }

    private async Task RunQueueAsync(CancellationToken ct)
    {
        try
        {
            await foreach (var job in _queue.Reader.ReadAllAsync(ct))
            {
                await _slots.WaitAsync(ct);
                _ = Task.Run(async () =>
                {
                    try
                    {
                        await UploadAsync(job, ct);
                    }
                    finally
                    {
                        _slots.Release();
                    }
                }, CancellationToken.None);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task UploadAsync(Job job, CancellationToken ct)
    {
        var session = job.Session;
        var path = Path.Combine(_hlsRoot, session.Id, job.Rendition, job.File);
        var uploaded = false;
        try
        {
            await _retry.ExecuteAsync(async token =>
            {
                await RegisterAsync(session, token);
                if (File.Exists(path))
                {
                    await _store.PutFileAsync(RecordingStore.SegmentKey(session.Id, job.Rendition, job.File), path, token);
                    uploaded = true;
                }
            }, ct);
        }
        catch (OperationCanceledException)
        {
            return; // shutting down: the file stays on disk, and the next start uploads it
        }

        if (uploaded)
        {
            _lag.Record(Stopwatch.GetElapsedTime(job.Queued).TotalSeconds);
            _uploads.Add(1, new KeyValuePair<string, object?>("kind", IsInit(job.File) ? "init" : "segment"));
        }
        else
        {
            _logger.LogWarning("Recording {SessionId}: {Rendition}/{File} was gone from disk before its upload", session.Id, job.Rendition, job.File);
        }

        lock (session)
        {
            session.Renditions[job.Rendition].Find(e => e.File == job.File)!.Uploaded = true;
            session.Pending--;
            Prune(session);
        }

        Interlocked.Decrement(ref _backlog);
    }

    /// <summary>Marks the session's upload as owed in SQL before its first object, so a restart knows to finish it.</summary>
    private async Task RegisterAsync(SessionUploads session, CancellationToken ct)
    {
        if (session.Registered)
        {
            return;
        }

        await using (var c = await _db.OpenAsync(ct))
        {
            await c.ExecuteAsync(new CommandDefinition(
                "UPDATE live_sessions SET upload_state = 'uploading' WHERE id = @id AND upload_state IS NULL", new { id = session.Id }, cancellationToken: ct));
        }

        session.Registered = true;
    }

    /// <summary>
    /// Deletes local segments that are uploaded and out of the live window (plus a margin); after the replay is
    /// stored, every uploaded file of the session. Holds the session's lock.
    /// </summary>
    private void Prune(SessionUploads session)
    {
        var keep = _live.LiveWindowSegments + WindowMargin;
        foreach (var (rendition, entries) in session.Renditions)
        {
            var segments = entries.Count(e => !e.Init);
            var seen = 0;
            foreach (var entry in entries)
            {
                var old = !entry.Init && seen++ < segments - keep;
                if (entry.Uploaded && !entry.Deleted && (session.Stored || old))
                {
                    try
                    {
                        File.Delete(Path.Combine(_hlsRoot, session.Id, rendition, entry.File));
                        entry.Deleted = true;
                    }
                    catch (IOException ex)
                    {
                        _logger.LogWarning("Recording {SessionId}: could not delete {File} ({Error}); the next pass tries again", session.Id, entry.File, ex.Message);
                    }
                }
            }
        }
    }

    private async Task FinishAsync(SessionUploads session, CancellationToken ct)
    {
        try
        {
            Scan(session.Id);
            while (Pending(session.Id) > 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200), _time, ct);
            }

            var stored = false;
            await _retry.ExecuteAsync(async token =>
            {
                await RegisterAsync(session, token);
                stored = await _store.PutReplayPlaylistsAsync(session.Id, Path.Combine(_hlsRoot, session.Id), token);
            }, ct);

            await _retry.ExecuteAsync(async token => await MarkStoredAsync(_db, session.Id, stored ? _time.GetUtcNow() : null, token), ct);

            lock (session)
            {
                session.Stored = true;
                Prune(session);
            }

            _sessions.TryRemove(session.Id, out _);
            _logger.LogInformation("Recording {SessionId}: the replay is in the object store", session.Id);
        }
        catch (OperationCanceledException)
        {
            lock (session)
            {
                session.Finishing = false;
            }
        }
        catch (Exception ex)
        {
            lock (session)
            {
                session.Finishing = false;
            }

            _logger.LogError(ex, "Recording {SessionId}: finishing the upload failed; the next pass tries again", session.Id);
        }
    }

    /// <summary>The session's recording is done with: its replay is in the store (<paramref name="at"/>), or it had none (null).</summary>
    internal static async Task MarkStoredAsync(Database db, string sessionId, DateTimeOffset? at, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        await c.ExecuteAsync(new CommandDefinition(
            "UPDATE live_sessions SET upload_state = 'stored', replay_stored_at = @at WHERE id = @id",
            new { id = sessionId, at = at?.ToUnixTimeMilliseconds() }, cancellationToken: ct));
    }

    /// <summary>Hands over every completed media file of the session found on disk (after a restart, or at the end).</summary>
    private void Scan(string sessionId)
    {
        var dir = Path.Combine(_hlsRoot, sessionId);
        if (!Directory.Exists(dir))
        {
            return;
        }

        foreach (var renditionDir in Directory.EnumerateDirectories(dir).Order(StringComparer.Ordinal))
        {
            var rendition = Path.GetFileName(renditionDir);
            var recording = Path.Combine(renditionDir, "recording.m3u8");
            IEnumerable<string> files;
            if (File.Exists(recording))
            {
                // MPEG-TS from ffmpeg: the recording lists the completed segments, in order (a file being written is not in it).
                files = File.ReadLines(recording).Select(l => l.Trim()).Where(l => l.Length > 0 && !l.StartsWith('#'));
            }
            else
            {
                // CMAF from the in-process packager: init segments, then segments (each written whole, then renamed).
                files = Directory.EnumerateFiles(renditionDir).Select(Path.GetFileName)
                    .Where(f => IsInit(f!) || Cmaf.LowLatencyPackager.TryParseMedia(f!, out _, out var part) && part is null)
                    .OrderBy(f => IsInit(f!) ? 0 : 1).ThenBy(f => f, StringComparer.Ordinal)!;
            }

            foreach (var file in files)
            {
                if (File.Exists(Path.Combine(renditionDir, file)))
                {
                    Enqueue(sessionId, rendition, file);
                }
            }
        }
    }

    /// <summary>At start and every <see cref="ResumeInterval"/>: sessions whose upload is unfinished and whose files are on this disk.</summary>
    private async Task ResumeLoopAsync(CancellationToken ct)
    {
        try
        {
            using (var first = CancellationTokenSource.CreateLinkedTokenSource(ct))
            {
                first.CancelAfter(TimeSpan.FromSeconds(10));
                try
                {
                    await _store.EnsureBucketAsync(first.Token);
                    _logger.LogInformation("Object store: bucket {Bucket} ready for recordings", _store.Bucket);
                }
                catch (Exception ex) when (ex is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    // Logged by the store with the setting to look at; uploads wait and retry, and /readyz says why.
                }
            }

            while (!ct.IsCancellationRequested)
            {
                await ResumeAsync(ct);
                await Task.Delay(ResumeInterval, _time, ct);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    internal async Task ResumeAsync(CancellationToken ct)
    {
        List<(string Id, string Status, int ReplayPending)> rows;
        try
        {
            await using var c = await _db.OpenAsync(ct);
            rows = [.. (await c.QueryAsync<(string, string, int)>(new CommandDefinition(
                "SELECT id, status, replay_pending FROM live_sessions WHERE upload_state = 'uploading' OR (status = 'live' AND upload_state IS NULL)",
                cancellationToken: ct)))];
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _logger.LogWarning("Recording uploads: looking for unfinished ones failed ({Error}); the next pass tries again", ex.Message);
            return;
        }

        foreach (var (id, status, replayPending) in rows)
        {
            if (!Directory.Exists(Path.Combine(_hlsRoot, id)))
            {
                continue; // another node's recording
            }

            Scan(id);
            if (status == LiveStatus.Ended && replayPending == 0)
            {
                Finish(id);
            }
        }
    }

    private static bool IsInit(string file) => Cmaf.LowLatencyPackager.TryParseInit(file, out _);

    public void Dispose()
    {
        _stop.Dispose();
        _slots.Dispose();
    }

    private sealed record Job(SessionUploads Session, string Rendition, string File, long Queued);

    private sealed class Entry(string file, bool init)
    {
        public string File { get; } = file;
        public bool Init { get; } = init;
        public bool Uploaded { get; set; }
        public bool Deleted { get; set; }
    }

    private sealed class SessionUploads(string id)
    {
        public string Id { get; } = id;
        public HashSet<string> Known { get; } = new(StringComparer.Ordinal);
        public Dictionary<string, List<Entry>> Renditions { get; } = new(StringComparer.Ordinal);
        public int Pending { get; set; }
        public volatile bool Registered;
        public bool Finishing { get; set; }
        public bool Stored { get; set; }
    }
}

/// <summary>
/// The one place a replay playlist's published text is made from the recorded one: the uploader stores its result,
/// and Pasar's route serves it for replays on local disk. Product moments (EXT-X-DATERANGE) are added here.
/// </summary>
internal static class ReplayPlaylist
{
    /// <param name="sessionId">The session.</param>
    /// <param name="file"><c>replay.m3u8</c> (the master) or <c>{rendition}/replay.m3u8</c>.</param>
    /// <param name="recorded">The playlist as the packager wrote it.</param>
    public static string Compose(string sessionId, string file, string recorded) => recorded;
}
