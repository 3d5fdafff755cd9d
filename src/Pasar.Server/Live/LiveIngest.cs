using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Options;
using Pasar.Rtmp;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Operations;

namespace Pasar.Server.Live;

/// <summary>The RTMP listener's port, known once Kestrel has bound it (<c>Pasar:Rtmp:Port=0</c> picks a free one).</summary>
internal sealed class RtmpEndpoint : INonHttpListener
{
    private ListenOptions? _listen;

    /// <summary>The port publishers connect to, or the configured one before the server has started.</summary>
    public int Port => (_listen?.EndPoint as IPEndPoint)?.Port is { } port and > 0 ? port : ConfiguredPort;

    public int ConfiguredPort { get; internal set; }

    /// <summary>The address and port Kestrel bound for RTMP, once it has.</summary>
    public IPEndPoint? BoundEndPoint => _listen?.EndPoint as IPEndPoint;

    internal void Bound(ListenOptions listen) => _listen = listen;

    /// <summary>The publish URL for a client that reached the API at <paramref name="host"/>.</summary>
    public string UrlFor(string host) => $"rtmp://{host}:{Port}/live";
}

/// <summary>Runs Pasar.Rtmp on each TCP connection Kestrel accepts on the RTMP port.</summary>
internal sealed class RtmpIngestConnectionHandler(
    LiveIngest ingest,
    RtmpConnectionGate gate,
    IOptions<RtmpServerOptions> options,
    TimeProvider time,
    IHostApplicationLifetime lifetime,
    LiveMetrics metrics,
    ILogger<RtmpIngestConnectionHandler> logger) : ConnectionHandler
{
    public override async Task OnConnectedAsync(ConnectionContext connection)
    {
        var address = (connection.RemoteEndPoint as IPEndPoint)?.Address;
        if (!gate.TryEnter(address, out var refusal))
        {
            // Returning closes the socket at once: nothing of it is read or buffered.
            metrics.RtmpConnections.Add(1, new KeyValuePair<string, object?>("reason", "ConnectionLimit"));
            logger.LogDebug("RTMP {ConnectionId} from {Remote} refused: {Refusal}", connection.ConnectionId, connection.RemoteEndPoint, refusal);
            return;
        }

        try
        {
            await using var rtmp = new RtmpConnection(connection.Transport, ingest, ingest, options.Value, time, connection.ConnectionId, connection.RemoteEndPoint);
            var result = await rtmp.RunAsync(lifetime.ApplicationStopping);
            metrics.RtmpConnections.Add(1, new KeyValuePair<string, object?>("reason", result.Reason.ToString()));
            var level = result.Reason is RtmpEndReason.ProtocolError or RtmpEndReason.HandshakeTimeout or RtmpEndReason.ConnectRejected or RtmpEndReason.PublishDeadline
                ? LogLevel.Debug
                : LogLevel.Information;
            logger.Log(level, "RTMP {ConnectionId} from {Remote} ended: {Reason} {Message}", connection.ConnectionId, connection.RemoteEndPoint, result.Reason, result.Message);
        }
        catch (Exception ex)
        {
            metrics.RtmpConnections.Add(1, new KeyValuePair<string, object?>("reason", nameof(RtmpEndReason.HostError)));
            logger.LogError(ex, "RTMP {ConnectionId} failed in Pasar's handler", connection.ConnectionId);
        }
        finally
        {
            gate.Leave(address);
        }
    }
}

/// <summary>Decides how many sessions may be transcoded at once; the others get the passthrough rendition only.</summary>
internal sealed class TranscodeCapacity(IOptions<LiveOptions> options)
{
    private int _inUse;

    public int Limit => options.Value.EffectiveMaxTranscodedSessions;

    public int InUse => Volatile.Read(ref _inUse);

    public bool TryAcquire()
    {
        while (true)
        {
            var current = Volatile.Read(ref _inUse);
            if (current >= Limit)
            {
                return false;
            }

            if (Interlocked.CompareExchange(ref _inUse, current + 1, current) == current)
            {
                return true;
            }
        }
    }

    public void Release() => Interlocked.Decrement(ref _inUse);
}

/// <summary>
/// The live sessions this node is ingesting: stream-key checks, the created → live → ended transitions driven by
/// publishers, reconnect grace, takeover, and one <see cref="HlsTranscoder"/> per publish feeding the session's
/// <see cref="HlsPackager"/>. SQL holds the status; this holds what only the ingesting node can know.
/// </summary>
internal sealed class LiveIngest(
    LiveSessionStore store,
    ReplayMomentLog moments,
    FfmpegProbe ffmpeg,
    TranscodeCapacity capacity,
    IOptions<LiveOptions> options,
    IOptions<PasarOptions> pasarOptions,
    LiveMetrics metrics,
    Storage.RecordingUploader uploader,
    Cluster.IngestRegistry registry,
    TimeProvider time,
    ILoggerFactory loggers) : IRtmpPublishAuthorizer, IRtmpPublishHandler, IHostedService
{
    private readonly ConcurrentDictionary<string, Broadcast> _broadcasts = new(StringComparer.Ordinal);
    private readonly ILogger _logger = loggers.CreateLogger<LiveIngest>();
    private readonly SemaphoreSlim _sweeping = new(1, 1);
    private volatile bool _stopping;
    private ITimer? _replaySweep;

    private static readonly TimeSpan ReplaySweepInterval = TimeSpan.FromMinutes(1);

    public string HlsRoot => Path.Combine(pasarOptions.Value.FullDataDir, "hls");

    public string SessionDirectory(string sessionId) => Path.Combine(HlsRoot, sessionId);

    /// <summary>The object store for recordings (disabled when <c>Pasar:Storage:S3:ServiceUrl</c> is empty).</summary>
    internal Storage.RecordingStore Recordings => uploader.Store;

    /// <summary>The session's packager, while this node ingests it (tests and the bench read rendition state from it).</summary>
    internal HlsPackager? Packager(string sessionId) => _broadcasts.TryGetValue(sessionId, out var b) ? b.Packager : null;

    /// <summary>The process id of the session's running ffmpeg, if any.</summary>
    internal int? TranscoderProcessId(string sessionId) =>
        _broadcasts.TryGetValue(sessionId, out var b) ? b.Publisher?.Transcoder?.ProcessId : null;

    /// <summary>The session's in-process LL-HLS packager, while this node ingests it and it has one.</summary>
    internal Cmaf.CmafSession? LowLatency(string sessionId) => _broadcasts.TryGetValue(sessionId, out var b) ? b.LowLatency : null;

    internal bool IsPublishing(string sessionId) => _broadcasts.TryGetValue(sessionId, out var b) && b.Publisher is not null;

    public async ValueTask<RtmpPublishDecision> AuthorizeAsync(RtmpPublishRequest request, CancellationToken cancellationToken)
    {
        if (_stopping)
        {
            return RtmpPublishDecision.Reject("The server is shutting down; reconnect in a moment.", "NetStream.Publish.Failed");
        }

        if (ffmpeg.Version is null)
        {
            return RtmpPublishDecision.Reject("Live publishing is off: ffmpeg is not installed on this server (see /readyz).", "NetStream.Publish.Failed");
        }

        if (request.StreamKey.Length > 128)
        {
            return RtmpPublishDecision.Reject("Unknown stream key.");
        }

        var session = await store.FindByKeyAsync(request.StreamKey, cancellationToken);
        if (session is null)
        {
            return RtmpPublishDecision.Reject("Unknown stream key.");
        }

        if (LiveStatus.IsOver(session.Status))
        {
            return RtmpPublishDecision.Reject(session.Status == LiveStatus.Cancelled
                ? "This show was cancelled; create a new session to go live."
                : "This live session has ended; create a new session to go live again.");
        }

        var broadcast = _broadcasts.GetOrAdd(session.Id, id => NewBroadcast(id, session.SellerId, session.Status == LiveStatus.Live));
        return broadcast.Ended
            ? RtmpPublishDecision.Reject("This live session has ended; create a new session to go live again.")
            : RtmpPublishDecision.Accept(new Publish(broadcast));
    }

    public async ValueTask OnPublishStartAsync(RtmpPublishContext context, CancellationToken cancellationToken)
    {
        var publish = (Publish)context.State!;
        publish.Context = context;
        var broadcast = publish.Broadcast;
        metrics.RtmpPublishers.Add(1);
        Publish? previous;
        await broadcast.Gate.WaitAsync(cancellationToken);
        try
        {
            if (broadcast.Ended)
            {
                context.Connection.Close();
                return;
            }

            previous = broadcast.Publisher;
            broadcast.Publisher = publish;
            broadcast.CancelGrace();
            // Other nodes forward this show's playback here while the publisher is connected (ADR 0025).
            registry.Register(broadcast.SessionId);
        }
        finally
        {
            broadcast.Gate.Release();
        }

        if (previous is not null)
        {
            // A second publisher on the key (OBS reconnecting before the old TCP connection timed out): it takes over.
            _logger.LogInformation("Live {SessionId}: publisher {New} takes over from {Old}", broadcast.SessionId, context.Request.ConnectionId, previous.Context?.Request.ConnectionId);
            previous.Context?.Connection.Close();
            await WaitQuietlyAsync(previous.Ended.Task, TimeSpan.FromSeconds(15));
        }
    }

    public ValueTask OnMetadataAsync(RtmpPublishContext context, RtmpStreamMetadata metadata, CancellationToken cancellationToken) => ValueTask.CompletedTask;

    public async ValueTask OnMediaAsync(RtmpPublishContext context, RtmpMediaPacket packet, CancellationToken cancellationToken)
    {
        var publish = (Publish)context.State!;
        var broadcast = publish.Broadcast;
        if (!ReferenceEquals(broadcast.Publisher, publish))
        {
            return; // taken over or ended; the connection is closing
        }

        if (!broadcast.WentLive)
        {
            await store.MarkLiveAsync(broadcast.SessionId, cancellationToken);
            broadcast.WentLive = true;
            _logger.LogInformation("Live {SessionId} is live", broadcast.SessionId);
        }

        if (publish.LowLatency is { } lowLatency)
        {
            WriteLowLatency(broadcast, lowLatency.Source, context, packet);
            await WriteRungsAsync(publish, context, packet, cancellationToken);
            return;
        }

        if (publish.Transcoder is null)
        {
            if (packet.Type != RtmpMediaType.Video || !packet.IsKeyframe || context.Video is null)
            {
                return;
            }

            await DecidePlanAsync(broadcast, context, cancellationToken);
            if (options.Value.LowLatencyPassthrough && context.Video.Codecs.StartsWith("avc1", StringComparison.Ordinal))
            {
                // The passthrough rendition is packaged here from the publisher's frames; with rungs to transcode, one
                // ffmpeg encodes them and the same packager takes its output. An empty ladder runs no ffmpeg at all.
                broadcast.LowLatency ??= new Cmaf.CmafSession(SessionDirectory(broadcast.SessionId), options.Value, metrics, time, uploader);
                broadcast.LowLatency.Source.BeginRun();
                publish.LowLatency = broadcast.LowLatency;
                if (broadcast.Plan!.Count > 0)
                {
                    publish.Transcoder = await CreateTranscoderAsync(broadcast, context, broadcast.LowLatency, cancellationToken);
                }

                WriteLowLatency(broadcast, publish.LowLatency.Source, context, packet);
                await WriteRungsAsync(publish, context, packet, cancellationToken);
                return;
            }

            publish.Transcoder = await CreateTranscoderAsync(broadcast, context, null, cancellationToken);
        }

        await publish.Transcoder.WriteAsync(context, packet, cancellationToken);
        if (publish.Transcoder.GaveUp)
        {
            context.Connection.Close();
        }
    }

    /// <summary>
    /// The frame to the ffmpeg encoding a CMAF session's rungs. If ffmpeg keeps dying the rungs stop and the
    /// passthrough rendition goes on alone: viewers keep the show at the source quality.
    /// </summary>
    private static async ValueTask WriteRungsAsync(Publish publish, RtmpPublishContext context, RtmpMediaPacket packet, CancellationToken ct)
    {
        if (publish.Transcoder is { GaveUp: false } rungs)
        {
            await rungs.WriteAsync(context, packet, ct);
        }
    }

    public async ValueTask OnPublishEndAsync(RtmpPublishContext context, RtmpEndReason reason, CancellationToken cancellationToken)
    {
        var publish = (Publish)context.State!;
        var broadcast = publish.Broadcast;
        metrics.RtmpPublishers.Add(-1);
        try
        {
            publish.LowLatency?.Source.EndRun();
            if (publish.Transcoder is not null)
            {
                await publish.Transcoder.CloseAsync();
            }
        }
        finally
        {
            await broadcast.Gate.WaitAsync(CancellationToken.None);
            try
            {
                if (ReferenceEquals(broadcast.Publisher, publish))
                {
                    broadcast.Publisher = null;
                    registry.Release(broadcast.SessionId);
                    if (broadcast.WentLive && !broadcast.Ended && !_stopping)
                    {
                        ArmGrace(broadcast);
                    }
                }
            }
            finally
            {
                broadcast.Gate.Release();
                publish.Ended.TrySetResult();
            }
        }

        _logger.LogInformation("Live {SessionId}: publisher {ConnectionId} left ({Reason})", broadcast.SessionId, context.Request.ConnectionId, reason);
    }

    /// <summary>
    /// Ends a session: the status first (so the key is refused from now on, and the replay is owed), then the
    /// publisher is closed, its ffmpeg finishes the last segment, and the recording becomes the replay. Whatever
    /// fails on the way, the transcoding slot is given back and the broadcast is forgotten; a replay that could not
    /// be written stays owed and is written by the next sweep or start-up. False when it had already ended.
    /// </summary>
    public async Task<bool> EndAsync(string sessionId, string reason, CancellationToken ct)
    {
        var changed = await store.MarkEndedAsync(sessionId, reason, ct);
        if (!_broadcasts.TryGetValue(sessionId, out var broadcast))
        {
            return changed;
        }

        Publish? publisher;
        await broadcast.Gate.WaitAsync(CancellationToken.None);
        try
        {
            if (broadcast.Ended)
            {
                return changed;
            }

            broadcast.Ended = true;
            broadcast.CancelGrace();
            publisher = broadcast.Publisher;
        }
        finally
        {
            broadcast.Gate.Release();
        }

        try
        {
            if (publisher is not null)
            {
                publisher.Context?.Connection.Close();
                await WaitQuietlyAsync(publisher.Ended.Task, TimeSpan.FromSeconds(20));
            }

            await WriteReplayAsync(broadcast.Packager, broadcast.LowLatency);
        }
        finally
        {
            if (broadcast.HoldsTranscodeSlot)
            {
                broadcast.HoldsTranscodeSlot = false;
                capacity.Release();
            }

            _broadcasts.TryRemove(sessionId, out _);
            await registry.RemoveAsync(sessionId);
        }

        _logger.LogInformation("Live {SessionId} ended ({Reason})", sessionId, reason);
        return changed;
    }

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        // Sessions that were live when this node stopped get the reconnect grace again, so a publisher can come
        // back after a restart; otherwise they end and their recording becomes the replay.
        foreach (var session in await store.ListLiveAsync(cancellationToken))
        {
            var broadcast = _broadcasts.GetOrAdd(session.Id, id => NewBroadcast(id, session.SellerId, wentLive: true));
            if (Cmaf.CmafSession.HasRecording(SessionDirectory(session.Id)))
            {
                // Packaged in-process before the restart: the packager picks its recording up, so a returning
                // publisher continues the numbering (and the replay keeps what came before), and viewers keep the window.
                broadcast.LowLatency ??= new Cmaf.CmafSession(SessionDirectory(session.Id), options.Value, metrics, time, uploader);
            }

            ArmGrace(broadcast);
        }

        // Sessions that ended but whose replay was never written (the process died between the two steps, or the
        // write failed): written now, then every minute while any is owed.
        await ResumeOwedReplaysAsync(cancellationToken);
        _replaySweep = time.CreateTimer(
            static state => _ = ((LiveIngest)state!).ResumeOwedReplaysAsync(CancellationToken.None),
            this, ReplaySweepInterval, ReplaySweepInterval);
    }

    /// <summary>Writes the replays still owed whose recording is on this node's disk. One sweep at a time.</summary>
    internal async Task ResumeOwedReplaysAsync(CancellationToken ct)
    {
        if (_stopping || !await _sweeping.WaitAsync(0, ct))
        {
            return;
        }

        try
        {
            foreach (var sessionId in await store.ListReplayPendingAsync(ct))
            {
                // A session still registered is being ended right now, by EndAsync; a folder elsewhere is another
                // node's recording, which that node writes.
                if (_stopping || _broadcasts.ContainsKey(sessionId) || !Directory.Exists(SessionDirectory(sessionId)))
                {
                    continue;
                }

                await using var packager = new HlsPackager(sessionId, SessionDirectory(sessionId), options.Value, metrics, time, loggers.CreateLogger<HlsPackager>());
                var lowLatency = Cmaf.CmafSession.HasRecording(SessionDirectory(sessionId))
                    ? new Cmaf.CmafSession(SessionDirectory(sessionId), options.Value, metrics, time, uploader)
                    : null;
                if (await WriteReplayAsync(packager, lowLatency))
                {
                    _logger.LogInformation("Live {SessionId}: the owed replay is written", sessionId);
                }
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _logger.LogWarning("Live: looking for owed replays failed ({Error}); the next sweep tries again", ex.Message);
        }
        finally
        {
            _sweeping.Release();
        }
    }

    /// <summary>Closes the playlists and writes the replay; true when it is on disk and no longer owed.</summary>
    private async Task<bool> WriteReplayAsync(HlsPackager packager, Cmaf.CmafSession? lowLatency = null)
    {
        try
        {
            lowLatency?.Finish();
            await packager.FinalizeAsync();
            await PlaceMomentsAsync(packager.SessionId);
            await store.ReplayWrittenAsync(packager.SessionId, CancellationToken.None);
            // With an object store, the rest of the recording and the replay playlists go there now (in the background).
            uploader.Finish(packager.SessionId);
            return true;
        }
        catch (Exception ex)
        {
            // The session has ended all the same; its replay stays owed (replay_pending) for the next sweep.
            _logger.LogError("Live {SessionId}: writing the replay failed ({Error}); it is retried within {Interval}", packager.SessionId, ex.Message, ReplaySweepInterval);
            return false;
        }
    }

    /// <summary>The show's product moments go into its replay (ADR 0024); a failure leaves a replay without them, not none.</summary>
    private async Task PlaceMomentsAsync(string sessionId)
    {
        try
        {
            var row = await store.FindAsync(sessionId, CancellationToken.None);
            await moments.PlaceInReplayAsync(sessionId, SessionDirectory(sessionId), row?.StartedAt, CancellationToken.None);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _logger.LogWarning("Live {SessionId}: placing the product moments in the replay failed ({Error})", sessionId, ex.Message);
        }
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping = true;
        if (_replaySweep is not null)
        {
            await _replaySweep.DisposeAsync();
        }

        var publishers = new List<Task>();
        foreach (var broadcast in _broadcasts.Values)
        {
            broadcast.CancelGrace();
            if (broadcast.Publisher is { } publish)
            {
                publish.Context?.Connection.Close();
                publishers.Add(publish.Ended.Task);
            }
        }

        await WaitQuietlyAsync(Task.WhenAll(publishers), TimeSpan.FromSeconds(10));
        foreach (var broadcast in _broadcasts.Values)
        {
            await broadcast.Packager.DisposeAsync();
        }
    }

    private Broadcast NewBroadcast(string sessionId, string sellerId, bool wentLive) =>
        new(sessionId, sellerId, new HlsPackager(sessionId, SessionDirectory(sessionId), options.Value, metrics, time, loggers.CreateLogger<HlsPackager>(), uploader))
        {
            WentLive = wentLive,
        };

    private void ArmGrace(Broadcast broadcast)
    {
        broadcast.CancelGrace();
        broadcast.Grace = time.CreateTimer(
            static state =>
            {
                var (ingest, b) = ((LiveIngest, Broadcast))state!;
                _ = ingest.EndAfterGraceAsync(b);
            },
            (this, broadcast),
            TimeSpan.FromSeconds(options.Value.ReconnectGraceSeconds),
            Timeout.InfiniteTimeSpan);
    }

    private async Task EndAfterGraceAsync(Broadcast broadcast)
    {
        try
        {
            if (broadcast.Publisher is null && !_stopping)
            {
                await EndAsync(broadcast.SessionId, "publisher-gone", CancellationToken.None);
            }
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "Live {SessionId}: ending after the reconnect grace failed", broadcast.SessionId);
        }
    }

    /// <summary>
    /// Packaging must never fail silently: a frame the in-process packager cannot take is counted, and the publisher
    /// is closed, so the session goes through the reconnect grace (and ends with its replay) instead of freezing.
    /// </summary>
    private void WriteLowLatency(Broadcast broadcast, Cmaf.LowLatencyPackager packager, RtmpPublishContext context, RtmpMediaPacket packet)
    {
        try
        {
            packager.Write(context, packet);
        }
        catch (Exception ex)
        {
            metrics.PackagingFailures.Add(1, new KeyValuePair<string, object?>("stage", "package"));
            _logger.LogError(ex, "Live {SessionId}: packaging a frame failed; closing the publisher", broadcast.SessionId);
            context.Connection.Close();
        }
    }

    private async Task DecidePlanAsync(Broadcast broadcast, RtmpPublishContext context, CancellationToken ct)
    {
        var width = context.Video!.Width ?? context.Metadata?.Width ?? 0;
        var height = context.Video!.Height ?? context.Metadata?.Height ?? 0;
        await broadcast.Gate.WaitAsync(ct);
        try
        {
            if (broadcast.Plan is null)
            {
                var rungs = LadderRung.Below(options.Value.ParsedLadder, width, height);
                if (rungs.Count > 0 && !capacity.TryAcquire())
                {
                    metrics.TranscodeFallbacks.Add(1);
                    _logger.LogWarning("Live {SessionId}: {InUse} of {Limit} transcoding slots in use; serving the passthrough rendition only",
                        broadcast.SessionId, capacity.InUse, capacity.Limit);
                    rungs = [];
                }
                else if (rungs.Count > 0)
                {
                    broadcast.HoldsTranscodeSlot = true;
                }

                broadcast.Plan = rungs;
            }
        }
        finally
        {
            broadcast.Gate.Release();
        }
    }

    /// <summary>The ffmpeg of a publish: every rendition as MPEG-TS HLS, or, for a CMAF session, only its rungs.</summary>
    private async Task<HlsTranscoder> CreateTranscoderAsync(Broadcast broadcast, RtmpPublishContext context, Cmaf.CmafSession? cmaf, CancellationToken ct)
    {
        var video = context.Video!;
        var width = video.Width ?? context.Metadata?.Width ?? 0;
        var height = video.Height ?? context.Metadata?.Height ?? 0;
        var sourceFps = video.Sps?.FrameRate ?? context.Metadata?.FrameRate;
        await DecidePlanAsync(broadcast, context, ct);
        var audio = context.Audio?.Codecs;
        var renditions = new List<RenditionInfo>
        {
            new()
            {
                Name = RenditionInfo.SourceName,
                Width = width,
                Height = height,
                FrameRate = sourceFps,
                VideoCodecs = video.Codecs,
                AudioCodecs = audio,
                VideoKbps = (int)(context.Metadata?.VideoDataRate ?? 0),
            },
        };
        foreach (var rung in broadcast.Plan!)
        {
            var (scaledWidth, scaledHeight) = rung.SizeFor(width, height);
            renditions.Add(new RenditionInfo
            {
                Name = rung.Name,
                Rung = rung.Name,
                Width = scaledWidth,
                Height = scaledHeight,
                FrameRate = sourceFps is { } fps ? Math.Min(fps, rung.FrameRate) : rung.FrameRate,
                VideoKbps = rung.VideoKbps,
                AudioCodecs = audio,
            });
        }

        ITranscodeOutput output = cmaf is null
            ? new TsHlsOutput(broadcast.Packager, renditions, options.Value)
            : new Cmaf.CmafRungOutput(cmaf, broadcast.SessionId, [.. renditions.Where(r => !r.IsSource)], options.Value, metrics, loggers.CreateLogger<Cmaf.CmafRungOutput>());
        return new HlsTranscoder(output, options.Value, metrics, loggers.CreateLogger<HlsTranscoder>());
    }

    private static async Task WaitQuietlyAsync(Task task, TimeSpan timeout)
    {
        try
        {
            await task.WaitAsync(timeout);
        }
        catch (TimeoutException)
        {
        }
    }

    /// <summary>One session on this node.</summary>
    private sealed class Broadcast(string sessionId, string sellerId, HlsPackager packager)
    {
        public SemaphoreSlim Gate { get; } = new(1, 1);
        public string SessionId { get; } = sessionId;
        public string SellerId { get; } = sellerId;
        public HlsPackager Packager { get; } = packager;
        public Cmaf.CmafSession? LowLatency { get; set; }
        public volatile Publish? Publisher;
        public ITimer? Grace { get; set; }
        public volatile bool WentLive;
        public volatile bool Ended;
        public IReadOnlyList<LadderRung>? Plan { get; set; }
        public bool HoldsTranscodeSlot { get; set; }

        public void CancelGrace()
        {
            Grace?.Dispose();
            Grace = null;
        }
    }

    /// <summary>One accepted publish: the authorizer's state, carried in <see cref="RtmpPublishContext.State"/>.</summary>
    private sealed class Publish(Broadcast broadcast)
    {
        public Broadcast Broadcast { get; } = broadcast;
        public RtmpPublishContext? Context { get; set; }
        public HlsTranscoder? Transcoder { get; set; }
        public Cmaf.CmafSession? LowLatency { get; set; }
        public TaskCompletionSource Ended { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
