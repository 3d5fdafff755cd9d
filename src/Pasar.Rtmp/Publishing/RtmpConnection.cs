using System.Buffers;
using System.IO.Pipelines;
using System.Net;

namespace Pasar.Rtmp;

/// <summary>
/// The server side of one RTMP publishing connection over a duplex pipe (a Kestrel
/// <c>ConnectionContext.Transport</c>, or a socket wrapped in pipes): handshake, chunk stream, the
/// connect/createStream/publish command flow, then H.264 and AAC media handed to an
/// <see cref="IRtmpPublishHandler"/>. Hostile or malformed input ends this connection only, with a reason.
/// </summary>
public sealed class RtmpConnection : IAsyncDisposable
{
    private const int CommandChunkStreamId = 3;
    private const int StreamChunkStreamId = 5;
    private const string Unsupported = "Pasar accepts H.264 video and AAC audio; got ";

    private readonly IDuplexPipe _transport;
    private readonly IRtmpPublishAuthorizer _authorizer;
    private readonly IRtmpPublishHandler _handler;
    private readonly RtmpServerOptions _options;
    private readonly TimeProvider _time;
    private readonly EndPoint? _remoteEndPoint;
    private readonly ChunkStreamReader _chunkReader;
    private readonly ChunkStreamWriter _chunkWriter = new();
    private readonly ArrayBufferWriter<byte> _scratch = new(512);
    private readonly CancellationTokenSource _closeCts = new();
    private readonly TaskCompletionSource<RtmpConnectionResult> _completion = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly HashSet<uint> _createdStreams = [];
    private readonly ITimer _timer;
    private readonly ITimer _deadline;
    private int _started;
    private int _requestedReason = -1;
    private volatile int _timerReason;
    private volatile bool _handshakeDone;
    private bool _connected;
    private bool _inHostCall;
    private string _app = string.Empty;
    private string? _tcUrl;
    private uint _nextStreamId = 1;
    private RtmpPublishContext? _publish;
    private long _bytesReceived;
    private long _lastAcknowledged;
    private long _acknowledgementWindow;

    /// <summary>Creates a connection; nothing happens until <see cref="RunAsync"/>.</summary>
    /// <param name="transport">The connection's byte streams.</param>
    /// <param name="authorizer">Decides whether a stream key may publish.</param>
    /// <param name="handler">Receives the publish's metadata and media.</param>
    /// <param name="options">Limits and timeouts; defaults when null. Validated here.</param>
    /// <param name="timeProvider">Clock for timeouts; <see cref="TimeProvider.System"/> when null.</param>
    /// <param name="connectionId">Identifies the connection in requests and logs; a new GUID when null.</param>
    /// <param name="remoteEndPoint">The peer's address, passed on to the authorizer.</param>
    public RtmpConnection(
        IDuplexPipe transport,
        IRtmpPublishAuthorizer authorizer,
        IRtmpPublishHandler handler,
        RtmpServerOptions? options = null,
        TimeProvider? timeProvider = null,
        string? connectionId = null,
        EndPoint? remoteEndPoint = null)
    {
        _transport = transport ?? throw new ArgumentNullException(nameof(transport));
        _authorizer = authorizer ?? throw new ArgumentNullException(nameof(authorizer));
        _handler = handler ?? throw new ArgumentNullException(nameof(handler));
        _options = options ?? new RtmpServerOptions();
        _options.Validate();
        _time = timeProvider ?? TimeProvider.System;
        _remoteEndPoint = remoteEndPoint;
        ConnectionId = connectionId ?? Guid.NewGuid().ToString("N");
        _chunkReader = new ChunkStreamReader(_options);
        _acknowledgementWindow = _options.WindowAcknowledgementSize;
        _timer = _time.CreateTimer(static state => ((RtmpConnection)state!).OnTimeout(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        _deadline = _time.CreateTimer(static state => ((RtmpConnection)state!).OnDeadline(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);

        // Nothing but commands until a publish is authorised: media is refused, and at most one command is held.
        _chunkReader.MediaAllowed = false;
    }

    /// <summary>Identifies this connection.</summary>
    public string ConnectionId { get; }

    /// <summary>The publish in progress, if any.</summary>
    public RtmpPublishContext? CurrentPublish => _publish;

    /// <summary>Bytes received after the handshake.</summary>
    public long BytesReceived => Interlocked.Read(ref _bytesReceived);

    /// <summary>Completes when <see cref="RunAsync"/> has finished.</summary>
    public Task<RtmpConnectionResult> Completion => _completion.Task;

    /// <summary>The most bytes ever held for partially received messages (for tests and metrics).</summary>
    internal long PeakPendingBytes => _chunkReader.PeakPendingBytes;

    /// <summary>
    /// Runs the connection until the client leaves, a limit or timeout is hit, the publish is refused, or the
    /// host closes it. Protocol violations do not throw: they end the connection and are reported in the
    /// result. Exceptions thrown by the handler or authorizer propagate after cleanup.
    /// </summary>
    /// <param name="cancellationToken">Closes the connection with <see cref="RtmpEndReason.ClosedByHost"/> when cancelled.</param>
    public async Task<RtmpConnectionResult> RunAsync(CancellationToken cancellationToken = default)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("RunAsync may only be called once per connection.");
        }

        using var registration = cancellationToken.Register(static state => ((RtmpConnection)state!).Close(), this);
        RtmpConnectionResult result;
        Exception? hostError = null;
        try
        {
            result = await RunCoreAsync(_closeCts.Token).ConfigureAwait(false);
        }
        catch (Exception ex) when (_inHostCall && !(ex is OperationCanceledException && _closeCts.IsCancellationRequested))
        {
            // Thrown by the host's own code (a transcoder pipe that broke, say), not by the peer.
            hostError = ex;
            result = new RtmpConnectionResult(RtmpEndReason.HostError, "The publish handler failed: " + ex.Message);
        }
        catch (RtmpProtocolException ex)
        {
            result = new RtmpConnectionResult(RtmpEndReason.ProtocolError, ex.Message, ex);
        }
        catch (OperationCanceledException) when (_closeCts.IsCancellationRequested)
        {
            var reason = (RtmpEndReason)Volatile.Read(ref _requestedReason);
            result = new RtmpConnectionResult(reason, reason switch
            {
                RtmpEndReason.HandshakeTimeout => $"The handshake did not complete within {_options.HandshakeTimeout}.",
                RtmpEndReason.IdleTimeout => $"Nothing received for {_options.IdleTimeout}.",
                RtmpEndReason.PublishDeadline => $"No publish was authorised within {_options.PublishDeadline} of connecting.",
                _ => "Closed by the host.",
            });
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // The transport broke (connection reset, or aborted by the server underneath).
            result = new RtmpConnectionResult(RtmpEndReason.ClientDisconnected, "The connection was lost: " + ex.Message);
        }
        catch (Exception ex)
        {
            // A bug, here or in what the host returned: still clean up, then let it surface.
            hostError = ex;
            result = new RtmpConnectionResult(RtmpEndReason.HostError, "The connection failed: " + ex.Message);
        }
        finally
        {
            _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            _deadline.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        }

        try
        {
            await EndPublishAsync(result.Reason).ConfigureAwait(false);
        }
        finally
        {
            _chunkReader.Dispose();
            await _transport.Input.CompleteAsync().ConfigureAwait(false);
            await _transport.Output.CompleteAsync().ConfigureAwait(false);
            _completion.TrySetResult(result);
        }

        if (hostError is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(hostError);
        }

        return result;
    }

    /// <summary>
    /// Asks the connection to close (for example when another publisher takes the key over). Returns at once;
    /// the handler's <see cref="IRtmpPublishHandler.OnPublishEndAsync"/> follows with <paramref name="reason"/>.
    /// </summary>
    public void Close(RtmpEndReason reason = RtmpEndReason.ClosedByHost)
    {
        Interlocked.CompareExchange(ref _requestedReason, (int)reason, -1);
        try
        {
            _closeCts.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Already finished.
        }
    }

    /// <summary>Closes the connection and waits until it has finished. Do not await this from the connection's own handler calls.</summary>
    public async Task<RtmpConnectionResult> CloseAsync()
    {
        Close();
        if (Volatile.Read(ref _started) == 0)
        {
            return new RtmpConnectionResult(RtmpEndReason.ClosedByHost, "Closed before it ran.");
        }

        return await _completion.Task.ConfigureAwait(false);
    }

    /// <summary>Closes the connection if it is running and releases the timer.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Volatile.Read(ref _started) != 0)
        {
            Close();
            await _completion.Task.ConfigureAwait(false);
        }

        await _timer.DisposeAsync().ConfigureAwait(false);
        await _deadline.DisposeAsync().ConfigureAwait(false);
        _closeCts.Dispose();
    }

    private void OnTimeout() => Close((RtmpEndReason)_timerReason);

    // Still in the handshake, the handshake timeout is the more precise reason (both default to 10 s).
    private void OnDeadline() => Close(_handshakeDone ? RtmpEndReason.PublishDeadline : RtmpEndReason.HandshakeTimeout);

    private void ArmTimer(TimeSpan due, RtmpEndReason reason)
    {
        _timerReason = (int)reason;
        _timer.Change(due, Timeout.InfiniteTimeSpan);
    }

    private void DisarmTimer() => _timer.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);

    private async Task<RtmpConnectionResult> RunCoreAsync(CancellationToken cancellationToken)
    {
        _deadline.Change(_options.PublishDeadline, Timeout.InfiniteTimeSpan);
        ArmTimer(_options.HandshakeTimeout, RtmpEndReason.HandshakeTimeout);
        if (!await HandshakeAsync(cancellationToken).ConfigureAwait(false))
        {
            return new RtmpConnectionResult(RtmpEndReason.ClientDisconnected, "The client left during the handshake.");
        }

        DisarmTimer();
        _handshakeDone = true;
        return await ReadMessagesAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<bool> HandshakeAsync(CancellationToken cancellationToken)
    {
        var input = _transport.Input;
        var c1 = new byte[RtmpHandshake.PacketSize];
        while (true)
        {
            var result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (TryReadC0C1(buffer, c1, out var consumed))
            {
                input.AdvanceTo(consumed);
                break;
            }

            input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                return false;
            }
        }

        RtmpHandshake.WriteS0S1S2(_transport.Output, c1, 0);
        await _transport.Output.FlushAsync(cancellationToken).ConfigureAwait(false);

        while (true)
        {
            var result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            var buffer = result.Buffer;
            if (buffer.Length >= RtmpHandshake.PacketSize)
            {
                input.AdvanceTo(buffer.GetPosition(RtmpHandshake.PacketSize));
                return true;
            }

            input.AdvanceTo(buffer.Start, buffer.End);
            if (result.IsCompleted)
            {
                return false;
            }
        }
    }

    private static bool TryReadC0C1(in ReadOnlySequence<byte> buffer, byte[] c1, out SequencePosition consumed)
    {
        var reader = new SequenceReader<byte>(buffer);
        var done = RtmpHandshake.TryReadC0C1(ref reader, c1);
        consumed = reader.Position;
        return done;
    }

    private bool TryReadMessage(in ReadOnlySequence<byte> buffer, ref SequencePosition consumed, out RtmpMessage message)
    {
        var reader = new SequenceReader<byte>(buffer.Slice(consumed));
        var done = _chunkReader.TryReadMessage(ref reader, out message);
        consumed = reader.Position;
        return done;
    }

    private async Task<RtmpConnectionResult> ReadMessagesAsync(CancellationToken cancellationToken)
    {
        var input = _transport.Input;
        while (true)
        {
            ArmTimer(_options.IdleTimeout, RtmpEndReason.IdleTimeout);
            var result = await input.ReadAsync(cancellationToken).ConfigureAwait(false);
            DisarmTimer();

            var buffer = result.Buffer;
            var consumed = buffer.Start;
            RtmpConnectionResult? end = null;
            try
            {
                while (end is null && TryReadMessage(buffer, ref consumed, out var message))
                {
                    end = await HandleMessageAsync(message, cancellationToken).ConfigureAwait(false);
                }
            }
            finally
            {
                var length = buffer.Slice(buffer.Start, consumed).Length;
                Interlocked.Add(ref _bytesReceived, length);
                input.AdvanceTo(consumed, buffer.End);
            }

            if (end is not null)
            {
                return end;
            }

            if (result.IsCompleted)
            {
                return new RtmpConnectionResult(RtmpEndReason.ClientDisconnected, "The client closed the connection.");
            }

            if (_bytesReceived - _lastAcknowledged >= _acknowledgementWindow)
            {
                // Acknowledgement (5.4.3): the sequence number is the byte count so far, wrapping at 32 bits.
                _lastAcknowledged = _bytesReceived;
                ProtocolControl.WriteAcknowledgement(_chunkWriter, _transport.Output, unchecked((uint)_bytesReceived));
                await _transport.Output.FlushAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private async ValueTask<RtmpConnectionResult?> HandleMessageAsync(RtmpMessage message, CancellationToken cancellationToken)
    {
        switch (message.TypeId)
        {
            case RtmpMessageType.Audio:
            case RtmpMessageType.Video:
                return await HandleMediaAsync(message, cancellationToken).ConfigureAwait(false);

            case RtmpMessageType.CommandAmf0:
                return await HandleCommandAsync(message, message.Payload, cancellationToken).ConfigureAwait(false);

            case RtmpMessageType.CommandAmf3:
                // AMF3 command messages start with a format byte, then AMF0 values (what Flash sent).
                return message.Payload.IsEmpty
                    ? null
                    : await HandleCommandAsync(message, message.Payload[1..], cancellationToken).ConfigureAwait(false);

            case RtmpMessageType.DataAmf0:
                await HandleDataAsync(message, message.Payload, cancellationToken).ConfigureAwait(false);
                return null;

            case RtmpMessageType.DataAmf3:
                if (!message.Payload.IsEmpty)
                {
                    await HandleDataAsync(message, message.Payload[1..], cancellationToken).ConfigureAwait(false);
                }

                return null;

            case RtmpMessageType.WindowAcknowledgementSize:
                var window = ChunkStreamReader.ReadControlUInt32(message, "Window Acknowledgement Size");
                if (window is > 0 and <= int.MaxValue)
                {
                    _acknowledgementWindow = window;
                }

                return null;

            case RtmpMessageType.UserControl:
                await HandleUserControlAsync(message, cancellationToken).ConfigureAwait(false);
                return null;

            case RtmpMessageType.Aggregate:
                return await HandleAggregateAsync(message, cancellationToken).ConfigureAwait(false);

            default:
                // Set Chunk Size and Abort were applied by the chunk reader; acknowledgements, Set Peer Bandwidth,
                // and shared objects are of no use to an ingest server.
                return null;
        }
    }

    private async ValueTask<RtmpConnectionResult?> HandleAggregateAsync(RtmpMessage message, CancellationToken cancellationToken)
    {
        //  Aggregate message (7.1.6.1): sub-messages laid out like FLV tags,
        //  | type (1) | payload length (3) | timestamp (3) | timestamp high (1) | stream id (3) | payload | back pointer (4) |
        //  The first sub-message takes the aggregate's timestamp; the others keep their offsets from it.
        var payload = message.Payload;
        var offset = 0;
        uint? first = null;
        while (offset < payload.Length)
        {
            var header = payload.Span[offset..];
            if (header.Length < FlvWriter.TagHeaderSize)
            {
                RtmpThrow.Malformed("Aggregate message ends inside a sub-message header.");
            }

            var typeId = header[0];
            var size = (header[1] << 16) | (header[2] << 8) | header[3];
            var timestamp = (uint)((header[7] << 24) | (header[4] << 16) | (header[5] << 8) | header[6]);
            if (header.Length < FlvWriter.TagHeaderSize + size + 4)
            {
                RtmpThrow.Malformed("Aggregate message ends inside a sub-message.");
            }

            first ??= timestamp;
            var sub = new RtmpMessage(message.ChunkStreamId, unchecked(message.Timestamp + timestamp - first.Value), typeId, message.StreamId, payload.Slice(offset + FlvWriter.TagHeaderSize, size));
            offset += FlvWriter.TagHeaderSize + size + 4;
            if (typeId is RtmpMessageType.Audio or RtmpMessageType.Video or RtmpMessageType.DataAmf0 &&
                await HandleMessageAsync(sub, cancellationToken).ConfigureAwait(false) is { } end)
            {
                return end;
            }
        }

        return null;
    }

    private async ValueTask HandleUserControlAsync(RtmpMessage message, CancellationToken cancellationToken)
    {
        var payload = message.Payload.Span;
        if (payload.Length < 2)
        {
            RtmpThrow.Malformed("User Control message shorter than its event type.");
        }

        var eventType = (ushort)((payload[0] << 8) | payload[1]);
        if (eventType == UserControlEvent.PingRequest && payload.Length >= 6)
        {
            var timestamp = (uint)((payload[2] << 24) | (payload[3] << 16) | (payload[4] << 8) | payload[5]);
            ProtocolControl.WriteUserControl(_chunkWriter, _transport.Output, UserControlEvent.PingResponse, timestamp);
            await _transport.Output.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private async ValueTask<RtmpConnectionResult?> HandleCommandAsync(RtmpMessage message, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        var command = RtmpCommand.Parse(payload, _options.MaxAmfDepth);
        if (!_connected && command.Name != "connect")
        {
            RtmpThrow.Protocol(RtmpErrorCode.UnexpectedCommand, $"'{command.Name}' before connect.");
        }

        switch (command.Name)
        {
            case "connect":
                return await ConnectAsync(command, cancellationToken).ConfigureAwait(false);

            case "releaseStream":
            case "FCPublish":
                // Flash Media Server conventions OBS and ffmpeg send before publishing; a plain _result satisfies both.
                if (command.TransactionId != 0)
                {
                    WriteCommand(CommandChunkStreamId, 0, "_result", command.TransactionId, AmfValue.Null, AmfValue.Undefined);
                    await _transport.Output.FlushAsync(cancellationToken).ConfigureAwait(false);
                }

                return null;

            case "createStream":
                if (_createdStreams.Count >= _options.MaxStreamsPerConnection)
                {
                    RtmpThrow.Protocol(RtmpErrorCode.UnexpectedCommand, $"More than {_options.MaxStreamsPerConnection} streams created.");
                }

                var streamId = _nextStreamId++;
                _createdStreams.Add(streamId);
                WriteCommand(CommandChunkStreamId, 0, "_result", command.TransactionId, AmfValue.Null, AmfValue.FromNumber(streamId));
                await _transport.Output.FlushAsync(cancellationToken).ConfigureAwait(false);
                return null;

            case "publish":
                return await PublishAsync(message, command, cancellationToken).ConfigureAwait(false);

            case "FCUnpublish":
            case "closeStream":
                await EndPublishAsync(RtmpEndReason.Unpublished).ConfigureAwait(false);
                return null;

            case "deleteStream":
                await EndPublishAsync(RtmpEndReason.Unpublished).ConfigureAwait(false);
                if (command.Argument(0).AsNumber() is { } deleted)
                {
                    _createdStreams.Remove((uint)deleted);
                }

                return null;

            default:
                // _checkbw, getStreamLength, play and the like: nothing an ingest server answers.
                return null;
        }
    }

    private async ValueTask<RtmpConnectionResult?> ConnectAsync(RtmpCommand command, CancellationToken cancellationToken)
    {
        if (_connected)
        {
            RtmpThrow.Protocol(RtmpErrorCode.UnexpectedCommand, "A second connect on one connection.");
        }

        var commandObject = command.CommandObject;
        var app = NormalizeApp(commandObject["app"]?.AsString());
        _tcUrl = commandObject["tcUrl"]?.AsString();
        if (!string.Equals(app, _options.ApplicationName, StringComparison.Ordinal))
        {
            var description = $"Unknown application '{app}'; publish to rtmp://<host>/{_options.ApplicationName}.";
            WriteCommand(CommandChunkStreamId, 0, "_error", command.TransactionId, AmfValue.Null, Status("error", "NetConnection.Connect.Rejected", description));
            await _transport.Output.FlushAsync(cancellationToken).ConfigureAwait(false);
            return new RtmpConnectionResult(RtmpEndReason.ConnectRejected, description);
        }

        _app = app;
        _connected = true;

        // What a publisher expects after connect: our acknowledgement window, its bandwidth limit, our chunk size.
        var output = _transport.Output;
        ProtocolControl.WriteWindowAcknowledgementSize(_chunkWriter, output, _options.WindowAcknowledgementSize);
        ProtocolControl.WriteSetPeerBandwidth(_chunkWriter, output, _options.PeerBandwidth, limitType: 2);
        ProtocolControl.WriteSetChunkSize(_chunkWriter, output, _options.OutgoingChunkSize);
        _chunkWriter.ChunkSize = _options.OutgoingChunkSize;

        var properties = AmfValue.FromObject(
        [
            new("fmsVer", AmfValue.FromString("FMS/3,0,1,123")),
            new("capabilities", AmfValue.FromNumber(31)),
        ]);
        var information = AmfValue.FromObject(
        [
            new("level", AmfValue.FromString("status")),
            new("code", AmfValue.FromString("NetConnection.Connect.Success")),
            new("description", AmfValue.FromString("Connection succeeded.")),
            new("objectEncoding", AmfValue.FromNumber(0)),
        ]);
        WriteCommand(CommandChunkStreamId, 0, "_result", command.TransactionId, properties, information);
        await output.FlushAsync(cancellationToken).ConfigureAwait(false);
        return null;
    }

    private async ValueTask<RtmpConnectionResult?> PublishAsync(RtmpMessage message, RtmpCommand command, CancellationToken cancellationToken)
    {
        var streamId = message.StreamId;
        if (!_createdStreams.Contains(streamId))
        {
            RtmpThrow.Protocol(RtmpErrorCode.UnexpectedCommand, $"publish on stream {streamId}, which was not created.");
        }

        if (_publish is not null)
        {
            RtmpThrow.Protocol(RtmpErrorCode.UnexpectedCommand, "publish while already publishing.");
        }

        var name = command.Argument(0).AsString();
        if (name is null)
        {
            RtmpThrow.Malformed("publish without a stream name.");
        }

        var query = name.IndexOf('?', StringComparison.Ordinal);
        var streamKey = query >= 0 ? name[..query] : name;
        var publishType = command.Argument(1).AsString() ?? "live";
        var request = new RtmpPublishRequest(ConnectionId, _app, streamKey, publishType, _tcUrl, _remoteEndPoint);

        RtmpPublishDecision decision;
        if (streamKey.Length == 0)
        {
            decision = RtmpPublishDecision.Reject("A stream key is required: use it as the stream name.");
        }
        else
        {
            // The peer has asked to publish: from here the authorizer's own timeout bounds the wait, and the
            // connection ends (accepted or refused) when it answers, so the deadline has done its work.
            _deadline.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            using var timeout = new CancellationTokenSource(_options.AuthorizationTimeout, _time);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
            try
            {
                _inHostCall = true;
                decision = await _authorizer.AuthorizeAsync(request, linked.Token).ConfigureAwait(false);
                _inHostCall = false;
            }
            catch (OperationCanceledException) when (timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                _inHostCall = false;
                decision = RtmpPublishDecision.Reject("Authorization timed out; try again.", "NetStream.Publish.Failed");
            }
        }

        if (!decision.IsAccepted)
        {
            var description = decision.Description ?? "Publishing refused.";
            WriteCommand(StreamChunkStreamId, streamId, "onStatus", 0, AmfValue.Null, Status("error", decision.StatusCode, description));
            await _transport.Output.FlushAsync(cancellationToken).ConfigureAwait(false);
            // The key is a secret: a refused one (often a typo of the real one) is named by a short hash only.
            var fingerprint = KeyFingerprint(streamKey);
            return new RtmpConnectionResult(RtmpEndReason.PublishRejected, $"Publish with key {fingerprint} refused: {description.Replace(streamKey, fingerprint, StringComparison.Ordinal)}");
        }

        // Authorised: media may now arrive and be buffered up to the full limits.
        _chunkReader.MediaAllowed = true;
        var context = new RtmpPublishContext(this, request, streamId, decision.State, _time.GetUtcNow());
        _publish = context;
        _inHostCall = true;
        await _handler.OnPublishStartAsync(context, cancellationToken).ConfigureAwait(false);
        _inHostCall = false;

        ProtocolControl.WriteUserControl(_chunkWriter, _transport.Output, UserControlEvent.StreamBegin, streamId);
        WriteCommand(StreamChunkStreamId, streamId, "onStatus", 0, AmfValue.Null, Status("status", "NetStream.Publish.Start", $"Publishing {streamKey}."));
        await _transport.Output.FlushAsync(cancellationToken).ConfigureAwait(false);
        return null;
    }

    private async ValueTask HandleDataAsync(RtmpMessage message, ReadOnlyMemory<byte> payload, CancellationToken cancellationToken)
    {
        var publish = _publish;
        if (publish is null || message.StreamId != publish.StreamId || payload.IsEmpty)
        {
            return;
        }

        // @setDataFrame("onMetaData", properties) from the publisher becomes the FLV script tag onMetaData(properties).
        var name = RtmpCommand.ReadDataName(payload, out var rest);
        var scriptData = name switch
        {
            "@setDataFrame" => payload[rest..],
            "onMetaData" => payload,
            _ => ReadOnlyMemory<byte>.Empty,
        };

        if (scriptData.IsEmpty || RtmpCommand.ReadMetadata(scriptData, _options.MaxAmfDepth) is not { } properties)
        {
            return;
        }

        var metadata = RtmpStreamMetadata.Create(properties, scriptData.ToArray());
        publish.Metadata = metadata;
        _inHostCall = true;
        await _handler.OnMetadataAsync(publish, metadata, cancellationToken).ConfigureAwait(false);
        _inHostCall = false;
    }

    private async ValueTask<RtmpConnectionResult?> HandleMediaAsync(RtmpMessage message, CancellationToken cancellationToken)
    {
        var publish = _publish;
        if (publish is null || message.StreamId != publish.StreamId || message.Payload.IsEmpty)
        {
            return null;
        }

        var payload = message.Payload;
        RtmpMediaPacket packet;
        if (message.TypeId == RtmpMessageType.Video)
        {
            if (!FlvMediaHeaders.TryParseVideo(payload.Span, out var video))
            {
                RtmpThrow.Malformed($"Video message of {payload.Length} bytes is too short for its header.");
            }

            if (video.IsEnhanced || video.CodecId != FlvMediaHeaders.AvcCodecId)
            {
                return await RejectCodecAsync(publish, FlvMediaHeaders.VideoCodecName(video), cancellationToken).ConfigureAwait(false);
            }

            if (video.FrameType == FlvMediaHeaders.VideoInfoFrame)
            {
                return null;
            }

            var sequenceHeader = video.AvcPacketType == FlvMediaHeaders.SequenceHeader;
            if (sequenceHeader)
            {
                if (!AvcDecoderConfiguration.TryParse(payload.Span[5..], out var configuration))
                {
                    RtmpThrow.Protocol(RtmpErrorCode.InvalidCodecConfiguration, "The H.264 sequence header (AVCDecoderConfigurationRecord) is invalid.");
                }

                publish.Video = configuration;
                publish.VideoSequenceHeader = payload.ToArray();
            }

            var keyframe = video.FrameType == FlvMediaHeaders.KeyFrame && video.AvcPacketType == 1;
            publish.VideoMessages++;
            if (keyframe)
            {
                publish.Keyframes++;
            }

            packet = new RtmpMediaPacket(RtmpMediaType.Video, message.Timestamp, payload, keyframe, sequenceHeader, video.CompositionTime);
        }
        else
        {
            if (!FlvMediaHeaders.TryParseAudio(payload.Span, out var audio))
            {
                RtmpThrow.Malformed($"Audio message of {payload.Length} bytes is too short for its header.");
            }

            if (audio.SoundFormat != FlvMediaHeaders.AacSoundFormat)
            {
                return await RejectCodecAsync(publish, FlvMediaHeaders.AudioCodecName(audio.SoundFormat), cancellationToken).ConfigureAwait(false);
            }

            var sequenceHeader = audio.AacPacketType == FlvMediaHeaders.SequenceHeader;
            if (sequenceHeader)
            {
                if (!AacAudioSpecificConfig.TryParse(payload.Span[2..], out var configuration))
                {
                    RtmpThrow.Protocol(RtmpErrorCode.InvalidCodecConfiguration, "The AAC sequence header (AudioSpecificConfig) is invalid.");
                }

                publish.Audio = configuration;
                publish.AudioSequenceHeader = payload.ToArray();
            }

            publish.AudioMessages++;
            packet = new RtmpMediaPacket(RtmpMediaType.Audio, message.Timestamp, payload, false, sequenceHeader, 0);
        }

        publish.MediaBytes += payload.Length;
        _inHostCall = true;
        await _handler.OnMediaAsync(publish, packet, cancellationToken).ConfigureAwait(false);
        _inHostCall = false;
        return null;
    }

    private async ValueTask<RtmpConnectionResult> RejectCodecAsync(RtmpPublishContext publish, string codec, CancellationToken cancellationToken)
    {
        var description = Unsupported + codec + ".";
        WriteCommand(StreamChunkStreamId, publish.StreamId, "onStatus", 0, AmfValue.Null, Status("error", "NetStream.Publish.Rejected", description));
        await _transport.Output.FlushAsync(cancellationToken).ConfigureAwait(false);
        return new RtmpConnectionResult(RtmpEndReason.UnsupportedCodec, description);
    }

    private async ValueTask EndPublishAsync(RtmpEndReason reason)
    {
        var publish = _publish;
        if (publish is null)
        {
            return;
        }

        _publish = null;
        await _handler.OnPublishEndAsync(publish, reason, CancellationToken.None).ConfigureAwait(false);
    }

    private void WriteCommand(int chunkStreamId, uint streamId, string name, double transactionId, AmfValue commandObject, AmfValue argument)
    {
        _scratch.ResetWrittenCount();
        Amf0Writer.WriteString(_scratch, name);
        Amf0Writer.WriteNumber(_scratch, transactionId);
        Amf0Writer.WriteValue(_scratch, commandObject);
        Amf0Writer.WriteValue(_scratch, argument);
        _chunkWriter.WriteMessage(_transport.Output, chunkStreamId, RtmpMessageType.CommandAmf0, 0, streamId, _scratch.WrittenSpan);
    }

    /// <summary>
    /// Names a stream key in logs without revealing it: <c>#</c> and the first 8 hex digits of its SHA-256
    /// (enough to tell two keys apart while debugging, far too little to publish with).
    /// </summary>
    public static string KeyFingerprint(string streamKey)
    {
        Span<byte> hash = stackalloc byte[32];
        System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(streamKey), hash);
        return "#" + Convert.ToHexStringLower(hash[..4]);
    }

    private static AmfValue Status(string level, string code, string description) => AmfValue.FromObject(
    [
        new("level", AmfValue.FromString(level)),
        new("code", AmfValue.FromString(code)),
        new("description", AmfValue.FromString(description)),
    ]);

    private static string NormalizeApp(string? app)
    {
        // OBS and ffmpeg send "live"; some tools add a trailing slash or a ?query.
        if (string.IsNullOrEmpty(app))
        {
            return string.Empty;
        }

        var query = app.IndexOf('?', StringComparison.Ordinal);
        if (query >= 0)
        {
            app = app[..query];
        }

        return app.TrimEnd('/');
    }
}
