using System.Buffers;
using System.Buffers.Binary;

namespace Pasar.Rtmp;

/// <summary>
/// Reassembles RTMP messages from the chunk stream (RTMP 1.0 specification, section 5.3). It keeps the
/// per-chunk-stream header state, applies the peer's Set Chunk Size and Abort, and enforces every size limit
/// from the chunk header, before the payload is buffered.
/// </summary>
internal sealed class ChunkStreamReader : IDisposable
{
    public const int DefaultChunkSize = 128;

    // Protocol control messages carry at most a few integers.
    private const int MaxControlMessageSize = 64;

    // Buffers start at most this big and double as chunks arrive, so memory follows the bytes actually
    // received rather than the length a header declares.
    private const int InitialBufferSize = 64 * 1024;

    private readonly Dictionary<int, ChunkStreamState> _streams = [];
    private readonly int _maxChunkSize;
    private readonly int _maxMessageSize;
    private readonly int _maxAmfMessageSize;
    private readonly int _maxChunkStreams;
    private readonly long _maxPendingBytes;
    private byte[]? _lastCompleted;
    private long _pendingBytes;

    public ChunkStreamReader(RtmpServerOptions options)
    {
        _maxChunkSize = options.MaxIncomingChunkSize;
        _maxMessageSize = options.MaxMessageSize;
        _maxAmfMessageSize = options.MaxAmfMessageSize;
        _maxChunkStreams = options.MaxChunkStreams;
        _maxPendingBytes = options.MaxPendingMessageBytes;
    }

    /// <summary>
    /// Whether audio, video and aggregate messages may arrive (a publish is authorised). While false such a message
    /// is refused at its header, before any of it is buffered, and pending data is capped at one command's size.
    /// </summary>
    public bool MediaAllowed { get; set; } = true;

    /// <summary>The chunk size the peer currently sends with.</summary>
    public int ChunkSize { get; private set; } = DefaultChunkSize;

    /// <summary>Bytes currently reserved for messages still arriving.</summary>
    public long PendingBytes => _pendingBytes;

    /// <summary>The most bytes ever reserved at once for messages still arriving.</summary>
    public long PeakPendingBytes { get; private set; }

    /// <summary>
    /// Consumes whole chunks until one completes a message. Returns false when the buffered input ends first;
    /// chunks fully consumed before that are kept, a trailing partial chunk is left unread.
    /// </summary>
    public bool TryReadMessage(ref SequenceReader<byte> reader, out RtmpMessage message)
    {
        ReleaseLastCompleted();
        while (true)
        {
            switch (TryReadChunk(ref reader, out message))
            {
                case ChunkResult.NeedMoreData:
                    return false;
                case ChunkResult.MessageComplete:
                    ApplyProtocolControl(message);
                    return true;
                default:
                    continue;
            }
        }
    }

    public void Dispose()
    {
        ReleaseLastCompleted();
        foreach (var state in _streams.Values)
        {
            if (state.Buffer is { } buffer)
            {
                ArrayPool<byte>.Shared.Return(buffer);
                state.Buffer = null;
            }
        }

        _streams.Clear();
        _pendingBytes = 0;
    }

    private ChunkResult TryReadChunk(ref SequenceReader<byte> reader, out RtmpMessage message)
    {
        message = default;
        var attempt = reader;

        //  Chunk basic header (5.3.1.1), 1 to 3 bytes:
        //   0 1 2 3 4 5 6 7      0                   1
        //  +-+-+-+-+-+-+-+-+     0 1 2 3 4 5 6 7 8 9 0 1 2 3 4 5
        //  |fmt|   cs id   |    +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        //  +-+-+-+-+-+-+-+-+    |fmt|     0     |  cs id - 64   |
        //                       +-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+-+
        //  cs id 1 means a 3-byte form: cs id = (third byte) * 256 + (second byte) + 64.
        if (!attempt.TryRead(out var first))
        {
            return ChunkResult.NeedMoreData;
        }

        var format = first >> 6;
        var chunkStreamId = first & 0x3F;
        if (chunkStreamId == 0)
        {
            if (!attempt.TryRead(out var low))
            {
                return ChunkResult.NeedMoreData;
            }

            chunkStreamId = 64 + low;
        }
        else if (chunkStreamId == 1)
        {
            if (!attempt.TryRead(out var low) || !attempt.TryRead(out var high))
            {
                return ChunkResult.NeedMoreData;
            }

            chunkStreamId = 64 + low + (high << 8);
        }

        _streams.TryGetValue(chunkStreamId, out var state);
        if (state is null || !state.HasHeader)
        {
            if (format != 0)
            {
                RtmpThrow.Protocol(RtmpErrorCode.InvalidChunkHeader, $"Chunk stream {chunkStreamId} starts with a type {format} header; the first must be type 0.");
            }

            if (state is null && _streams.Count >= _maxChunkStreams)
            {
                RtmpThrow.Protocol(RtmpErrorCode.TooManyChunkStreams, $"More than {_maxChunkStreams} chunk streams in use.");
            }
        }

        uint timestampField = 0;
        int length;
        byte typeId;
        uint streamId;
        switch (format)
        {
            case 0:
                //  Type 0 message header (11 bytes):
                //  +-------------+----------------+-------------------+-------------------+
                //  | timestamp 3 | message length 3 | message type id 1 | msg stream id 4 (LE) |
                //  +-------------+----------------+-------------------+-------------------+
                if (!TryReadUInt24(ref attempt, out timestampField) ||
                    !TryReadUInt24(ref attempt, out var length0) ||
                    !attempt.TryRead(out typeId) ||
                    !attempt.TryReadLittleEndian(out int rawStreamId))
                {
                    return ChunkResult.NeedMoreData;
                }

                length = (int)length0;
                streamId = (uint)rawStreamId;
                break;
            case 1:
                //  Type 1 (7 bytes): | timestamp delta 3 | message length 3 | message type id 1 |
                if (!TryReadUInt24(ref attempt, out timestampField) ||
                    !TryReadUInt24(ref attempt, out var length1) ||
                    !attempt.TryRead(out typeId))
                {
                    return ChunkResult.NeedMoreData;
                }

                length = (int)length1;
                streamId = state!.StreamId;
                break;
            case 2:
                //  Type 2 (3 bytes): | timestamp delta 3 |
                if (!TryReadUInt24(ref attempt, out timestampField))
                {
                    return ChunkResult.NeedMoreData;
                }

                length = state!.Length;
                typeId = state.TypeId;
                streamId = state.StreamId;
                break;
            default:
                //  Type 3: no message header; everything comes from the preceding chunk of this stream.
                length = state!.Length;
                typeId = state.TypeId;
                streamId = state.StreamId;
                break;
        }

        //  Extended timestamp (5.3.1.3): 4 bytes, present when the 24-bit field is 0xFFFFFF, and in type 3
        //  chunks when the latest type 0, 1 or 2 header of the chunk stream carried one.
        var extended = format == 3 ? state!.ExtendedTimestamp : timestampField == 0xFFFFFF;
        uint extendedValue = 0;
        if (extended)
        {
            if (!attempt.TryReadBigEndian(out int rawExtended))
            {
                return ChunkResult.NeedMoreData;
            }

            extendedValue = (uint)rawExtended;
            if (format != 3)
            {
                timestampField = extendedValue;
            }
        }

        // A type 0, 1 or 2 header always begins a message; a type 3 header begins one when none is in progress.
        var starting = format != 3 || !state!.InProgress;
        if (starting)
        {
            CheckLength(length, typeId);
        }

        var received = starting ? 0 : state!.Received;
        var chunkPayload = Math.Min(ChunkSize, length - received);
        if (attempt.Remaining < chunkPayload)
        {
            return ChunkResult.NeedMoreData;
        }

        // The whole chunk is buffered: commit it.
        if (state is null)
        {
            state = new ChunkStreamState();
            _streams.Add(chunkStreamId, state);
        }

        if (starting)
        {
            if (state.InProgress)
            {
                // A new header in the middle of a message: drop the partial one, as ffmpeg does.
                DiscardPartial(state);
            }

            switch (format)
            {
                case 0:
                    state.Timestamp = timestampField;
                    state.TimestampField = timestampField;
                    state.ExtendedTimestamp = extended;
                    break;
                case 1:
                case 2:
                    state.Timestamp += timestampField;
                    state.TimestampField = timestampField;
                    state.ExtendedTimestamp = extended;
                    break;
                default:
                    // After a type 0 header the "delta" reused here is that header's absolute timestamp (5.3.1.2.4).
                    var delta = extended ? extendedValue : state.TimestampField;
                    state.Timestamp += delta;
                    state.TimestampField = delta;
                    break;
            }

            state.HasHeader = true;
            state.Length = length;
            state.TypeId = typeId;
            state.StreamId = streamId;
            state.Received = 0;
            state.InProgress = true;
        }

        if (chunkPayload > 0)
        {
            EnsureCapacity(state, received + chunkPayload);
            attempt.TryCopyTo(state.Buffer.AsSpan(received, chunkPayload));
            attempt.Advance(chunkPayload);
            state.Received = received + chunkPayload;
        }

        reader = attempt;
        if (state.Received < state.Length)
        {
            return ChunkResult.ChunkConsumed;
        }

        var buffer = state.Buffer;
        message = new RtmpMessage(chunkStreamId, state.Timestamp, state.TypeId, state.StreamId, buffer is null ? ReadOnlyMemory<byte>.Empty : buffer.AsMemory(0, state.Length));
        _pendingBytes -= state.Capacity;
        _lastCompleted = buffer;
        state.Buffer = null;
        state.Capacity = 0;
        state.Received = 0;
        state.InProgress = false;
        return ChunkResult.MessageComplete;
    }

    private void CheckLength(int length, byte typeId)
    {
        var limit = typeId switch
        {
            >= RtmpMessageType.SetChunkSize and <= RtmpMessageType.SetPeerBandwidth => MaxControlMessageSize,
            RtmpMessageType.Audio or RtmpMessageType.Video or RtmpMessageType.Aggregate => _maxMessageSize,
            _ => _maxAmfMessageSize,
        };

        if (length > limit)
        {
            RtmpThrow.MessageTooLarge(length, limit, typeId);
        }

        if (!MediaAllowed && typeId is RtmpMessageType.Audio or RtmpMessageType.Video or RtmpMessageType.Aggregate)
        {
            RtmpThrow.Protocol(RtmpErrorCode.MediaBeforePublish, $"A media message (type {typeId}) before a publish was authorised.");
        }
    }

    private void EnsureCapacity(ChunkStreamState state, int needed)
    {
        if (state.Capacity >= needed)
        {
            return;
        }

        var capacity = Math.Min(state.Length, Math.Max(needed, state.Capacity == 0 ? InitialBufferSize : state.Capacity * 2));
        var growth = capacity - state.Capacity;
        var maxPending = MediaAllowed ? _maxPendingBytes : Math.Min(_maxPendingBytes, _maxAmfMessageSize);
        if (_pendingBytes + growth > maxPending)
        {
            RtmpThrow.Protocol(RtmpErrorCode.TooMuchPendingData, $"More than {maxPending} bytes of partially received messages.");
        }

        var buffer = ArrayPool<byte>.Shared.Rent(capacity);
        if (state.Buffer is { } old)
        {
            old.AsSpan(0, state.Received).CopyTo(buffer);
            ArrayPool<byte>.Shared.Return(old);
        }

        state.Buffer = buffer;
        state.Capacity = capacity;
        _pendingBytes += growth;
        PeakPendingBytes = Math.Max(PeakPendingBytes, _pendingBytes);
    }

    private void DiscardPartial(ChunkStreamState state)
    {
        if (state.Buffer is { } buffer)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }

        _pendingBytes -= state.Capacity;
        state.Buffer = null;
        state.Capacity = 0;
        state.Received = 0;
        state.InProgress = false;
    }

    private void ApplyProtocolControl(in RtmpMessage message)
    {
        // Applied whatever the message stream id: the chunk layer is out of step with the peer otherwise.
        switch (message.TypeId)
        {
            case RtmpMessageType.SetChunkSize:
                //  Set Chunk Size (5.4.1): |0| chunk size (31 bits) |
                var size = ReadControlUInt32(message, "Set Chunk Size");
                if (size == 0 || size > 0x7FFFFFFF)
                {
                    RtmpThrow.Protocol(RtmpErrorCode.InvalidChunkSize, $"Invalid chunk size {size}.");
                }

                if (size > _maxChunkSize)
                {
                    RtmpThrow.Protocol(RtmpErrorCode.ChunkSizeTooLarge, $"Chunk size {size} exceeds the limit of {_maxChunkSize}.");
                }

                ChunkSize = (int)size;
                break;
            case RtmpMessageType.Abort:
                //  Abort Message (5.4.2): | chunk stream id (32 bits) |
                var target = ReadControlUInt32(message, "Abort");
                if (target <= int.MaxValue && _streams.TryGetValue((int)target, out var state) && state.InProgress)
                {
                    DiscardPartial(state);
                }

                break;
        }
    }

    internal static uint ReadControlUInt32(in RtmpMessage message, string name)
    {
        if (message.Payload.Length < 4)
        {
            RtmpThrow.Malformed($"{name} message has {message.Payload.Length} bytes; expected 4.");
        }

        return BinaryPrimitives.ReadUInt32BigEndian(message.Payload.Span);
    }

    private static bool TryReadUInt24(ref SequenceReader<byte> reader, out uint value)
    {
        value = 0;
        Span<byte> bytes = stackalloc byte[3];
        if (!reader.TryCopyTo(bytes))
        {
            return false;
        }

        reader.Advance(3);
        value = (uint)((bytes[0] << 16) | (bytes[1] << 8) | bytes[2]);
        return true;
    }

    private void ReleaseLastCompleted()
    {
        if (_lastCompleted is { } buffer)
        {
            _lastCompleted = null;
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private enum ChunkResult
    {
        NeedMoreData,
        ChunkConsumed,
        MessageComplete,
    }

    private sealed class ChunkStreamState
    {
        public bool HasHeader;
        public bool InProgress;
        public bool ExtendedTimestamp;
        public uint Timestamp;
        public uint TimestampField;
        public int Length;
        public byte TypeId;
        public uint StreamId;
        public int Received;
        public int Capacity;
        public byte[]? Buffer;
    }
}
