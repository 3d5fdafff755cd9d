using System.Buffers;
using System.Buffers.Binary;

namespace Pasar.Rtmp;

/// <summary>User Control event types (RTMP 1.0 specification, section 7.1.7).</summary>
internal static class UserControlEvent
{
    public const ushort StreamBegin = 0;
    public const ushort StreamEof = 1;
    public const ushort StreamDry = 2;
    public const ushort SetBufferLength = 3;
    public const ushort StreamIsRecorded = 4;
    public const ushort PingRequest = 6;
    public const ushort PingResponse = 7;
}

/// <summary>Writes protocol control messages (types 1 to 6), always on chunk stream 2 and message stream 0.</summary>
internal static class ProtocolControl
{
    public const int ChunkStreamId = 2;

    public static void WriteSetChunkSize(ChunkStreamWriter writer, IBufferWriter<byte> output, int chunkSize) =>
        WriteUInt32Message(writer, output, RtmpMessageType.SetChunkSize, (uint)chunkSize & 0x7FFFFFFF);

    public static void WriteAcknowledgement(ChunkStreamWriter writer, IBufferWriter<byte> output, uint sequenceNumber) =>
        WriteUInt32Message(writer, output, RtmpMessageType.Acknowledgement, sequenceNumber);

    public static void WriteWindowAcknowledgementSize(ChunkStreamWriter writer, IBufferWriter<byte> output, int size) =>
        WriteUInt32Message(writer, output, RtmpMessageType.WindowAcknowledgementSize, (uint)size);

    public static void WriteSetPeerBandwidth(ChunkStreamWriter writer, IBufferWriter<byte> output, int size, byte limitType)
    {
        //  Set Peer Bandwidth (5.4.5): | acknowledgement window size (32) | limit type (8): 0 hard, 1 soft, 2 dynamic |
        Span<byte> payload = stackalloc byte[5];
        BinaryPrimitives.WriteUInt32BigEndian(payload, (uint)size);
        payload[4] = limitType;
        writer.WriteMessage(output, ChunkStreamId, RtmpMessageType.SetPeerBandwidth, 0, 0, payload);
    }

    public static void WriteUserControl(ChunkStreamWriter writer, IBufferWriter<byte> output, ushort eventType, uint eventData)
    {
        //  User Control Message (6.2): | event type (16) | event data (32 for the events the server sends) |
        Span<byte> payload = stackalloc byte[6];
        BinaryPrimitives.WriteUInt16BigEndian(payload, eventType);
        BinaryPrimitives.WriteUInt32BigEndian(payload[2..], eventData);
        writer.WriteMessage(output, ChunkStreamId, RtmpMessageType.UserControl, 0, 0, payload);
    }

    private static void WriteUInt32Message(ChunkStreamWriter writer, IBufferWriter<byte> output, byte typeId, uint value)
    {
        Span<byte> payload = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(payload, value);
        writer.WriteMessage(output, ChunkStreamId, typeId, 0, 0, payload);
    }
}
