using System.Net;

namespace Pasar.Rtmp;

/// <summary>Why a publish or a connection ended.</summary>
public enum RtmpEndReason
{
    /// <summary>The client closed the connection (or it broke).</summary>
    ClientDisconnected,

    /// <summary>The client ended the publish with <c>FCUnpublish</c>, <c>closeStream</c> or <c>deleteStream</c>.</summary>
    Unpublished,

    /// <summary>The host closed the connection (<see cref="RtmpConnection.Close"/> or the run's cancellation token), for example because another publisher took over the key.</summary>
    ClosedByHost,

    /// <summary>The handshake did not complete within <see cref="RtmpServerOptions.HandshakeTimeout"/>.</summary>
    HandshakeTimeout,

    /// <summary>Nothing arrived for <see cref="RtmpServerOptions.IdleTimeout"/>.</summary>
    IdleTimeout,

    /// <summary><c>connect</c> named an application other than <see cref="RtmpServerOptions.ApplicationName"/>.</summary>
    ConnectRejected,

    /// <summary>The <see cref="IRtmpPublishAuthorizer"/> refused the stream key.</summary>
    PublishRejected,

    /// <summary>The publisher sent a codec other than H.264 video or AAC audio.</summary>
    UnsupportedCodec,

    /// <summary>The peer broke the protocol or a limit; see <see cref="RtmpConnectionResult.Error"/>.</summary>
    ProtocolError,

    /// <summary>The handler or authorizer threw; the exception propagates from <see cref="RtmpConnection.RunAsync"/>.</summary>
    HostError,

    /// <summary>No publish was authorised within <see cref="RtmpServerOptions.PublishDeadline"/> of accept.</summary>
    PublishDeadline,
}

/// <summary>How a connection ended.</summary>
/// <param name="Reason">The reason.</param>
/// <param name="Message">A sentence for logs.</param>
/// <param name="Error">The protocol violation, when <paramref name="Reason"/> is <see cref="RtmpEndReason.ProtocolError"/>.</param>
public sealed record RtmpConnectionResult(RtmpEndReason Reason, string Message, RtmpProtocolException? Error = null);

/// <summary>Audio or video.</summary>
public enum RtmpMediaType
{
    /// <summary>An RTMP audio message (type 8), AAC.</summary>
    Audio = 8,

    /// <summary>An RTMP video message (type 9), H.264.</summary>
    Video = 9,
}

/// <summary>One audio or video message from the publisher.</summary>
/// <param name="Type">Audio or video.</param>
/// <param name="Timestamp">RTMP timestamp in milliseconds (the decode time for video).</param>
/// <param name="Payload">The message body, which is also an FLV tag body. Borrowed: valid only during the handler call.</param>
/// <param name="IsKeyframe">True for an H.264 key frame carrying coded video (not for the sequence header).</param>
/// <param name="IsSequenceHeader">True for the AVC decoder configuration or AAC AudioSpecificConfig.</param>
/// <param name="CompositionTimeOffset">Video presentation time minus decode time, in milliseconds.</param>
public readonly record struct RtmpMediaPacket(
    RtmpMediaType Type,
    uint Timestamp,
    ReadOnlyMemory<byte> Payload,
    bool IsKeyframe,
    bool IsSequenceHeader,
    int CompositionTimeOffset);

/// <summary>What a publisher asks for; given to <see cref="IRtmpPublishAuthorizer"/>.</summary>
/// <param name="ConnectionId">Identifies the connection in logs.</param>
/// <param name="App">The application from <c>connect</c> (always <see cref="RtmpServerOptions.ApplicationName"/>).</param>
/// <param name="StreamKey">The stream name from <c>publish</c>, without any <c>?query</c>.</param>
/// <param name="PublishType">live, record or append, as the client sent it.</param>
/// <param name="TcUrl">The URL the client connected to, as it sent it.</param>
/// <param name="RemoteEndPoint">The peer's address when the host supplied it.</param>
public sealed record RtmpPublishRequest(string ConnectionId, string App, string StreamKey, string PublishType, string? TcUrl, EndPoint? RemoteEndPoint);

/// <summary>The authorizer's answer to a publish request.</summary>
public sealed class RtmpPublishDecision
{
    /// <summary>The onStatus code sent when a stream key is refused.</summary>
    public const string BadNameCode = "NetStream.Publish.BadName";

    private RtmpPublishDecision(bool accepted, string? description, string statusCode, object? state)
    {
        IsAccepted = accepted;
        Description = description;
        StatusCode = statusCode;
        State = state;
    }

    /// <summary>True when publishing may start.</summary>
    public bool IsAccepted { get; }

    /// <summary>Why publishing was refused, sent to the client as the onStatus description.</summary>
    public string? Description { get; }

    /// <summary>The onStatus code sent on refusal.</summary>
    public string StatusCode { get; }

    /// <summary>Anything the host wants back in <see cref="RtmpPublishContext.State"/> (a live session id, say).</summary>
    public object? State { get; }

    /// <summary>Allows the publish.</summary>
    public static RtmpPublishDecision Accept(object? state = null) => new(true, null, "NetStream.Publish.Start", state);

    /// <summary>Refuses the publish; the client gets an onStatus error before <c>NetStream.Publish.Start</c> and the connection closes.</summary>
    public static RtmpPublishDecision Reject(string description, string statusCode = BadNameCode)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(description);
        ArgumentException.ThrowIfNullOrWhiteSpace(statusCode);
        return new(false, description, statusCode, null);
    }
}

/// <summary>Decides whether a stream key may publish. Called before <c>NetStream.Publish.Start</c> is sent.</summary>
public interface IRtmpPublishAuthorizer
{
    /// <summary>Accepts or refuses the publish. Cancelled after <see cref="RtmpServerOptions.AuthorizationTimeout"/> or when the connection closes.</summary>
    ValueTask<RtmpPublishDecision> AuthorizeAsync(RtmpPublishRequest request, CancellationToken cancellationToken);
}

/// <summary>
/// Receives what an accepted publisher sends. Calls for one connection never overlap, and the connection reads
/// nothing more until each call completes, so a slow handler applies back-pressure to the publisher.
/// </summary>
public interface IRtmpPublishHandler
{
    /// <summary>The authorizer accepted; called before <c>NetStream.Publish.Start</c> goes to the client.</summary>
    ValueTask OnPublishStartAsync(RtmpPublishContext context, CancellationToken cancellationToken);

    /// <summary>The publisher sent <c>@setDataFrame</c>/<c>onMetaData</c>.</summary>
    ValueTask OnMetadataAsync(RtmpPublishContext context, RtmpStreamMetadata metadata, CancellationToken cancellationToken);

    /// <summary>An H.264 or AAC message arrived. The payload is only valid during the call.</summary>
    ValueTask OnMediaAsync(RtmpPublishContext context, RtmpMediaPacket packet, CancellationToken cancellationToken);

    /// <summary>The publish ended, whatever the cause; called once per started publish. The token is not cancelled.</summary>
    ValueTask OnPublishEndAsync(RtmpPublishContext context, RtmpEndReason reason, CancellationToken cancellationToken);
}

/// <summary>An accepted publish: who it is and what is known about the stream so far.</summary>
public sealed class RtmpPublishContext
{
    internal RtmpPublishContext(RtmpConnection connection, RtmpPublishRequest request, uint streamId, object? state, DateTimeOffset startedAt)
    {
        Connection = connection;
        Request = request;
        StreamId = streamId;
        State = state;
        StartedAt = startedAt;
    }

    /// <summary>The connection publishing; <see cref="RtmpConnection.Close"/> it to take the key over.</summary>
    public RtmpConnection Connection { get; }

    /// <summary>What the publisher asked for.</summary>
    public RtmpPublishRequest Request { get; }

    /// <summary>Shortcut for <see cref="RtmpPublishRequest.StreamKey"/>.</summary>
    public string StreamKey => Request.StreamKey;

    /// <summary>The RTMP message stream id carrying the media.</summary>
    public uint StreamId { get; }

    /// <summary>What the authorizer put in <see cref="RtmpPublishDecision.State"/>.</summary>
    public object? State { get; }

    /// <summary>When the publish was accepted.</summary>
    public DateTimeOffset StartedAt { get; }

    /// <summary>The latest metadata, if the publisher sent any.</summary>
    public RtmpStreamMetadata? Metadata { get; internal set; }

    /// <summary>The latest H.264 decoder configuration (codecs string, size, frame rate).</summary>
    public AvcDecoderConfiguration? Video { get; internal set; }

    /// <summary>The latest AAC configuration (codecs string, sample rate, channels).</summary>
    public AacAudioSpecificConfig? Audio { get; internal set; }

    /// <summary>A copy of the latest video sequence header message, to replay to a restarted consumer.</summary>
    public ReadOnlyMemory<byte> VideoSequenceHeader { get; internal set; }

    /// <summary>A copy of the latest audio sequence header message, to replay to a restarted consumer.</summary>
    public ReadOnlyMemory<byte> AudioSequenceHeader { get; internal set; }

    /// <summary>Video messages received, sequence headers included.</summary>
    public long VideoMessages { get; internal set; }

    /// <summary>Audio messages received, sequence headers included.</summary>
    public long AudioMessages { get; internal set; }

    /// <summary>Key frames received.</summary>
    public long Keyframes { get; internal set; }

    /// <summary>Audio and video payload bytes received.</summary>
    public long MediaBytes { get; internal set; }
}
