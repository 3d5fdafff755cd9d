namespace Pasar.Rtmp.Tests.Support;

internal sealed record MediaRecord(RtmpMediaType Type, uint Timestamp, byte[] Payload, bool IsKeyframe, bool IsSequenceHeader, int CompositionTimeOffset);

/// <summary>An authorizer and handler that remembers every call, optionally re-muxing to FLV.</summary>
internal sealed class RecordingHost : IRtmpPublishAuthorizer, IRtmpPublishHandler
{
    private readonly Lock _gate = new();
    private readonly List<string> _events = [];
    private readonly List<RtmpPublishRequest> _requests = [];
    private readonly List<RtmpStreamMetadata> _metadata = [];
    private readonly List<MediaRecord> _media = [];

    public RecordingHost(string? acceptedKey = "KEY") => AcceptedKey = acceptedKey;

    /// <summary>The only key accepted; null accepts any.</summary>
    public string? AcceptedKey { get; }

    public FlvWriter? Flv { get; init; }

    public Func<RtmpMediaPacket, ValueTask>? OnMedia { get; init; }

    public TaskCompletionSource<RtmpPublishContext> Started { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource<RtmpEndReason> Ended { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource FirstKeyframe { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public RtmpPublishContext? Context { get; private set; }

    public IReadOnlyList<string> Events { get { lock (_gate) { return [.. _events]; } } }

    public IReadOnlyList<RtmpPublishRequest> Requests { get { lock (_gate) { return [.. _requests]; } } }

    public IReadOnlyList<RtmpStreamMetadata> Metadata { get { lock (_gate) { return [.. _metadata]; } } }

    public IReadOnlyList<MediaRecord> Media { get { lock (_gate) { return [.. _media]; } } }

    public ValueTask<RtmpPublishDecision> AuthorizeAsync(RtmpPublishRequest request, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _requests.Add(request);
            _events.Add("authorize " + request.StreamKey);
        }

        return ValueTask.FromResult(AcceptedKey is null || request.StreamKey == AcceptedKey
            ? RtmpPublishDecision.Accept(state: "session-1")
            : RtmpPublishDecision.Reject($"Unknown stream key '{request.StreamKey}'."));
    }

    public ValueTask OnPublishStartAsync(RtmpPublishContext context, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            Context = context;
            _events.Add("start " + context.StreamKey);
        }

        Flv?.WriteHeader();
        Started.TrySetResult(context);
        return ValueTask.CompletedTask;
    }

    public async ValueTask OnMetadataAsync(RtmpPublishContext context, RtmpStreamMetadata metadata, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _metadata.Add(metadata);
            _events.Add("metadata");
        }

        if (Flv is not null)
        {
            Flv.WriteMetadata(metadata);
            await Flv.FlushAsync(cancellationToken);
        }
    }

    public async ValueTask OnMediaAsync(RtmpPublishContext context, RtmpMediaPacket packet, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _media.Add(new(packet.Type, packet.Timestamp, packet.Payload.ToArray(), packet.IsKeyframe, packet.IsSequenceHeader, packet.CompositionTimeOffset));
            _events.Add(packet.Type == RtmpMediaType.Video ? "video" : "audio");
        }

        if (packet.IsKeyframe)
        {
            FirstKeyframe.TrySetResult();
        }

        if (Flv is not null)
        {
            Flv.WriteMedia(packet);
            await Flv.FlushAsync(cancellationToken);
        }

        if (OnMedia is not null)
        {
            await OnMedia(packet);
        }
    }

    public ValueTask OnPublishEndAsync(RtmpPublishContext context, RtmpEndReason reason, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _events.Add("end " + reason);
        }

        Ended.TrySetResult(reason);
        return ValueTask.CompletedTask;
    }
}
