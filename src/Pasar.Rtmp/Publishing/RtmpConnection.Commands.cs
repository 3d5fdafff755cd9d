namespace Pasar.Rtmp;

// The RTMP command flow: connect, createStream, publish and deleteStream, the publish authorisation and
// the replies (onStatus, _result) written back on the command chunk streams.
public sealed partial class RtmpConnection
{
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
