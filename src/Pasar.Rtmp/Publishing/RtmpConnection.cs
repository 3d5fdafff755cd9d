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
public sealed partial class RtmpConnection : IAsyncDisposable
{
    private const int CommandChunkStreamId = 3;
    private const int StreamChunkStreamId = 5;

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
}
