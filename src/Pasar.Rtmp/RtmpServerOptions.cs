namespace Pasar.Rtmp;

/// <summary>Limits and timeouts for one RTMP connection. Every limit is enforced before data is buffered.</summary>
public sealed class RtmpServerOptions
{
    /// <summary>The only application name publishers may connect to (<c>rtmp://host/live</c>). Default <c>live</c>.</summary>
    public string ApplicationName { get; set; } = "live";

    /// <summary>Time allowed from accept until the handshake completes. Default 10 s.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Longest silence from the peer before the connection is closed. Default 30 s.</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Time allowed from accept until a publish is authorised (handshake, connect, createStream, publish and its
    /// authorisation). The idle timeout restarts with every byte, so without this a peer trickling a byte at a time
    /// could hold a connection forever without ever publishing. Default 10 s.
    /// </summary>
    public TimeSpan PublishDeadline { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Time the <see cref="IRtmpPublishAuthorizer"/> may take before the publish is refused. Default 10 s.</summary>
    public TimeSpan AuthorizationTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Largest Set Chunk Size the peer may announce. Default 64 KiB.</summary>
    public int MaxIncomingChunkSize { get; set; } = 64 * 1024;

    /// <summary>Largest audio or video message. Default 4 MiB.</summary>
    public int MaxMessageSize { get; set; } = 4 * 1024 * 1024;

    /// <summary>Largest AMF command or data message (connect, publish, onMetaData). Default 64 KiB.</summary>
    public int MaxAmfMessageSize { get; set; } = 64 * 1024;

    /// <summary>Most distinct chunk stream ids a peer may use. Default 64 (ffmpeg and OBS use fewer than 10).</summary>
    public int MaxChunkStreams { get; set; } = 64;

    /// <summary>
    /// Most bytes held for messages that are still arriving, across all chunk streams, once a publish is authorised.
    /// Before that only commands may arrive, and at most <see cref="MaxAmfMessageSize"/> is held. Default 8 MiB.
    /// </summary>
    public int MaxPendingMessageBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>Deepest nesting of AMF0 objects and arrays. Default 16.</summary>
    public int MaxAmfDepth { get; set; } = 16;

    /// <summary>Most streams one connection may create with createStream. Default 4.</summary>
    public int MaxStreamsPerConnection { get; set; } = 4;

    /// <summary>Chunk size the server announces and uses for what it sends. Default 4096.</summary>
    public int OutgoingChunkSize { get; set; } = 4096;

    /// <summary>
    /// Window Acknowledgement Size sent to the client, and the window the server acknowledges with until the
    /// client announces its own. Default 2 500 000 bytes.
    /// </summary>
    public int WindowAcknowledgementSize { get; set; } = 2_500_000;

    /// <summary>Set Peer Bandwidth value sent to the client. Default 2 500 000 bytes.</summary>
    public int PeerBandwidth { get; set; } = 2_500_000;

    /// <summary>Throws <see cref="ArgumentOutOfRangeException"/> naming the first setting that is out of range.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(ApplicationName))
        {
            throw new ArgumentOutOfRangeException(nameof(ApplicationName), "The RTMP application name must not be empty.");
        }

        RequirePositive(HandshakeTimeout, nameof(HandshakeTimeout));
        RequirePositive(IdleTimeout, nameof(IdleTimeout));
        RequirePositive(AuthorizationTimeout, nameof(AuthorizationTimeout));
        RequirePositive(PublishDeadline, nameof(PublishDeadline));
        RequireRange(MaxIncomingChunkSize, 128, 0x7FFFFFFF, nameof(MaxIncomingChunkSize));
        RequireRange(MaxMessageSize, 1024, 0xFFFFFF, nameof(MaxMessageSize));
        RequireRange(MaxAmfMessageSize, 1024, MaxMessageSize, nameof(MaxAmfMessageSize));
        RequireRange(MaxChunkStreams, 2, 65599, nameof(MaxChunkStreams));
        RequireRange(MaxPendingMessageBytes, MaxMessageSize, int.MaxValue, nameof(MaxPendingMessageBytes));
        RequireRange(MaxAmfDepth, 2, 256, nameof(MaxAmfDepth));
        RequireRange(MaxStreamsPerConnection, 1, 1024, nameof(MaxStreamsPerConnection));
        RequireRange(OutgoingChunkSize, 128, 0xFFFFFF, nameof(OutgoingChunkSize));
        RequireRange(WindowAcknowledgementSize, 1, int.MaxValue, nameof(WindowAcknowledgementSize));
        RequireRange(PeerBandwidth, 1, int.MaxValue, nameof(PeerBandwidth));
    }

    private static void RequirePositive(TimeSpan value, string name)
    {
        if (value <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(name, value, $"RtmpServerOptions.{name} must be positive.");
        }
    }

    private static void RequireRange(int value, int min, int max, string name)
    {
        if (value < min || value > max)
        {
            throw new ArgumentOutOfRangeException(name, value, $"RtmpServerOptions.{name} must be between {min} and {max}.");
        }
    }
}
