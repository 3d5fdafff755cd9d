using System.Diagnostics.CodeAnalysis;

namespace Pasar.Rtmp;

/// <summary>What exactly a peer did wrong; carried by <see cref="RtmpProtocolException"/>.</summary>
public enum RtmpErrorCode
{
    /// <summary>C0 asked for a protocol version other than 3 (for example 6, encrypted RTMPE).</summary>
    UnsupportedVersion,

    /// <summary>A chunk header referred to state that does not exist, or was otherwise invalid.</summary>
    InvalidChunkHeader,

    /// <summary>The peer's Set Chunk Size was zero or had the reserved top bit set.</summary>
    InvalidChunkSize,

    /// <summary>The peer's Set Chunk Size exceeded <see cref="RtmpServerOptions.MaxIncomingChunkSize"/>.</summary>
    ChunkSizeTooLarge,

    /// <summary>A message declared a length above the limit for its type.</summary>
    MessageTooLarge,

    /// <summary>The peer used more chunk streams than <see cref="RtmpServerOptions.MaxChunkStreams"/>.</summary>
    TooManyChunkStreams,

    /// <summary>Partially received messages together exceeded <see cref="RtmpServerOptions.MaxPendingMessageBytes"/>.</summary>
    TooMuchPendingData,

    /// <summary>An AMF0 value was malformed or used an unsupported type.</summary>
    MalformedAmf,

    /// <summary>AMF0 objects or arrays were nested deeper than <see cref="RtmpServerOptions.MaxAmfDepth"/>.</summary>
    AmfTooDeep,

    /// <summary>A protocol control, command, audio or video message had an invalid layout.</summary>
    MalformedMessage,

    /// <summary>A command arrived in a state where it is not allowed (for example publish before connect).</summary>
    UnexpectedCommand,

    /// <summary>An H.264 or AAC sequence header could not be parsed.</summary>
    InvalidCodecConfiguration,

    /// <summary>Audio, video or an aggregate arrived before a publish was authorised; none of it is buffered.</summary>
    MediaBeforePublish,
}

/// <summary>
/// The peer broke the RTMP protocol or one of the configured limits. The connection that raised it
/// ends; nothing else is affected.
/// </summary>
public sealed class RtmpProtocolException : Exception
{
    /// <summary>Creates the exception with a reason code and a human-readable message.</summary>
    public RtmpProtocolException(RtmpErrorCode code, string message)
        : base(message) => Code = code;

    /// <summary>Creates the exception with a generic message.</summary>
    public RtmpProtocolException()
        : this(RtmpErrorCode.MalformedMessage, "Malformed RTMP input.")
    {
    }

    /// <summary>Creates the exception with a message and <see cref="RtmpErrorCode.MalformedMessage"/>.</summary>
    public RtmpProtocolException(string message)
        : this(RtmpErrorCode.MalformedMessage, message)
    {
    }

    /// <summary>Creates the exception wrapping an inner exception.</summary>
    public RtmpProtocolException(string message, Exception innerException)
        : base(message, innerException) => Code = RtmpErrorCode.MalformedMessage;

    /// <summary>The machine-readable reason.</summary>
    public RtmpErrorCode Code { get; }
}

/// <summary>Throw helpers kept out of line so the parsing hot paths stay small.</summary>
internal static class RtmpThrow
{
    [DoesNotReturn]
    public static void Protocol(RtmpErrorCode code, string message) => throw new RtmpProtocolException(code, message);

    [DoesNotReturn]
    public static void MessageTooLarge(long length, int limit, int typeId) =>
        throw new RtmpProtocolException(RtmpErrorCode.MessageTooLarge, $"Message of type {typeId} declares {length} bytes; the limit is {limit}.");

    [DoesNotReturn]
    public static void MalformedAmf(string message) => throw new RtmpProtocolException(RtmpErrorCode.MalformedAmf, message);

    [DoesNotReturn]
    public static void Malformed(string message) => throw new RtmpProtocolException(RtmpErrorCode.MalformedMessage, message);
}
