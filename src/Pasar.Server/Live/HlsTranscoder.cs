using System.Diagnostics;
using System.Globalization;
using Pasar.Rtmp;

namespace Pasar.Server.Live;

/// <summary>
/// Where one ffmpeg run's output goes: MPEG-TS HLS files for <see cref="HlsPackager"/> (<see cref="TsHlsOutput"/>), or
/// FLV streams of the transcoded rungs for the in-process CMAF packager (<see cref="Cmaf.CmafRungOutput"/>).
/// </summary>
internal interface ITranscodeOutput
{
    string SessionId { get; }

    /// <summary>A run starts: ffmpeg's arguments after the input (filters, encoders and outputs).</summary>
    IReadOnlyList<string> BeginRun(bool hasAudio, Action fail);

    /// <summary>The run's ffmpeg has exited: its output is taken in whole before the next run starts.</summary>
    Task CompleteRunAsync();
}

/// <summary>
/// The ffmpeg behind one publish: FLV in through stdin, the session's renditions out through an
/// <see cref="ITranscodeOutput"/>. Started at the publisher's first key frame (the size is known then, and a decoder
/// can start there); if ffmpeg dies mid-stream (or its output cannot be read) a new one is started at the next key
/// frame with the header, metadata and sequence headers replayed, and the session's playlists continue after a
/// discontinuity. Used only from the publisher's own callbacks, which never overlap, so it needs no locks.
/// </summary>
internal sealed class HlsTranscoder(
    ITranscodeOutput output,
    LiveOptions options,
    LiveMetrics metrics,
    ILogger logger)
{
    private const int MaxRestartsPerMinute = 5;
    private readonly Queue<long> _restarts = new();
    private readonly Queue<string> _stderrTail = new();
    private Process? _process;
    private FlvWriter? _flv;
    private volatile bool _failed;
    private bool _closing;

    /// <summary>The running ffmpeg's process id (tests kill it to check the supervision).</summary>
    public int? ProcessId => _process is { } p && !_failed ? p.Id : null;

    /// <summary>How many times ffmpeg was restarted during this publish.</summary>
    public int Restarts { get; private set; }

    /// <summary>True when ffmpeg kept dying and this publish should stop.</summary>
    public bool GaveUp { get; private set; }

    public async ValueTask WriteAsync(RtmpPublishContext context, RtmpMediaPacket packet, CancellationToken ct)
    {
        if (GaveUp)
        {
            return;
        }

        if (_process is null || _failed)
        {
            if (packet.Type != RtmpMediaType.Video || !packet.IsKeyframe || context.Video is null)
            {
                return; // a decoder can only start at a key frame
            }

            if (_failed && !await RestartAllowedAsync())
            {
                return;
            }

            await StartAsync(context, packet.Timestamp, ct);
        }

        try
        {
            _flv!.WriteMedia(packet);
            if (!await _flv.FlushAsync(ct))
            {
                _failed = true;
            }
        }
        catch (IOException)
        {
            _failed = true; // ffmpeg went away (EPIPE); the next key frame starts a new one
        }
    }

    /// <summary>The publish ended: close ffmpeg's input so it writes its last segment, wait for it, and hand the run to the packager.</summary>
    public async Task CloseAsync()
    {
        _closing = true;
        await StopProcessAsync(TimeSpan.FromSeconds(10));
    }

    private async Task<bool> RestartAllowedAsync()
    {
        await StopProcessAsync(TimeSpan.FromSeconds(2));
        var now = Environment.TickCount64;
        while (_restarts.Count > 0 && now - _restarts.Peek() > 60_000)
        {
            _restarts.Dequeue();
        }

        if (_restarts.Count >= MaxRestartsPerMinute)
        {
            GaveUp = true;
            logger.LogError("Live {SessionId}: ffmpeg died {Count} times in a minute; giving up on this publish. Last output: {Output}",
                output.SessionId, _restarts.Count, string.Join(" | ", _stderrTail));
            return false;
        }

        _restarts.Enqueue(now);
        Restarts++;
        metrics.FfmpegRestarts.Add(1);
        logger.LogWarning("Live {SessionId}: ffmpeg exited mid-stream; restarting. Last output: {Output}", output.SessionId, string.Join(" | ", _stderrTail));
        return true;
    }

    private async Task StartAsync(RtmpPublishContext context, uint timestamp, CancellationToken ct)
    {
        var start = new ProcessStartInfo(options.FfmpegPath)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var argument in InputArguments.Concat(output.BeginRun(context.Audio is not null, Fail)))
        {
            start.ArgumentList.Add(argument);
        }

        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.Exited += (_, _) =>
        {
            if (!_closing)
            {
                _failed = true;
            }
        };
        process.ErrorDataReceived += (_, e) => RememberOutput(e.Data);
        process.OutputDataReceived += (_, _) => { };
        process.Start();
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        _process = process;
        _failed = false;

        // What a decoder needs before the key frame: the FLV header, the metadata and both sequence headers.
        _flv = new FlvWriter(process.StandardInput.BaseStream);
        _flv.WriteHeader(hasAudio: context.Audio is not null, hasVideo: true);
        if (context.Metadata is { } metadata)
        {
            _flv.WriteMetadata(metadata, timestamp);
        }

        _flv.WriteTag(FlvTagType.Video, timestamp, context.VideoSequenceHeader.Span);
        if (!context.AudioSequenceHeader.IsEmpty)
        {
            _flv.WriteTag(FlvTagType.Audio, timestamp, context.AudioSequenceHeader.Span);
        }

        try
        {
            await _flv.FlushAsync(ct);
        }
        catch (IOException)
        {
            _failed = true;
        }

        logger.LogInformation("Live {SessionId}: ffmpeg {Pid} started", output.SessionId, process.Id);
    }

    /// <summary>The output could not be read (a bad fragment, a broken socket): this ffmpeg is killed, and the next key frame starts a new one.</summary>
    private void Fail()
    {
        _failed = true;
        try
        {
            _process?.Kill(entireProcessTree: true);
        }
        catch (Exception ex) when (ex is InvalidOperationException or System.ComponentModel.Win32Exception)
        {
            // already gone
        }
    }

    private async Task StopProcessAsync(TimeSpan timeout)
    {
        var process = _process;
        if (process is null)
        {
            return;
        }

        _process = null;
        try
        {
            if (_flv is not null)
            {
                await _flv.CompleteAsync();
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or InvalidOperationException)
        {
        }

        try
        {
            process.StandardInput.Close();
        }
        catch (IOException)
        {
        }

        using var wait = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(wait.Token);
        }
        catch (OperationCanceledException)
        {
            logger.LogWarning("Live {SessionId}: ffmpeg {Pid} did not exit within {Timeout}; killing it", output.SessionId, process.Id, timeout);
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
        }

        await output.CompleteRunAsync();
        process.Dispose();
        _flv = null;
    }

    private void RememberOutput(string? line)
    {
        if (string.IsNullOrWhiteSpace(line))
        {
            return;
        }

        lock (_stderrTail)
        {
            _stderrTail.Enqueue(line);
            while (_stderrTail.Count > 8)
            {
                _stderrTail.Dequeue();
            }
        }
    }

    /// <summary>The input: the publisher's FLV on stdin, probed briefly (the sequence headers come first).</summary>
    internal static readonly string[] InputArguments =
    [
        "-hide_banner", "-nostdin", "-nostats", "-loglevel", "warning",
        "-probesize", "1000000", "-analyzeduration", "1000000",
        "-f", "flv", "-i", "pipe:0",
    ];

    /// <summary>
    /// The filter graph for the encoded rungs: the source split, each branch scaled to the exact size the master
    /// playlist advertises (the short side is the rung's number, the aspect kept; -2 keeps the aspect for an unknown
    /// source width) and brought to the rung's frame rate. <paramref name="keepKeyFrames"/> lowers the frame rate with
    /// <c>select</c> (which always keeps the source's key frames, so <c>-force_key_frames source</c> sees them) rather
    /// than <c>fps</c> (which loses the key-frame flag).
    /// </summary>
    internal static string[] FilterGraph(IReadOnlyList<RenditionInfo> encoded, bool keepKeyFrames)
    {
        var inv = CultureInfo.InvariantCulture;
        if (encoded.Count == 0)
        {
            return [];
        }

        var graph = encoded.Count == 1
            ? "[0:v]null[s1];"
            : $"[0:v]split={encoded.Count}{string.Concat(Enumerable.Range(1, encoded.Count).Select(i => $"[s{i}]"))};";
        for (var i = 0; i < encoded.Count; i++)
        {
            // The frame rate is lowered before scaling (a 60 fps source scales half as many frames), and the
            // scaler averages areas: cheaper than the default bicubic and as sharp for a downscale (docs/benchmarks.md).
            var rate = encoded[i].FrameRate switch
            {
                null => "",
                { } f when keepKeyFrames => string.Create(inv, $"select='key+isnan(prev_selected_t)+gte(t-prev_selected_t\\,{1 / f - 0.004:0.#####})',"),
                { } f => string.Create(inv, $"fps={f:0.###},"),
            };
            var size = encoded[i].Width > 0 ? string.Create(inv, $"{encoded[i].Width}:{encoded[i].Height}") : string.Create(inv, $"-2:{encoded[i].Height}");
            graph += string.Create(inv, $"[s{i + 1}]{rate}scale={size}:flags=area,format=yuv420p[v{i + 1}];");
        }

        return ["-filter_complex", graph.TrimEnd(';')];
    }

    /// <summary>
    /// x264 for one rung at its bit rate. With <paramref name="gopSeconds"/>, a fixed GOP of that length, key frames
    /// forced on segment boundaries by time and no scene-cut key frames (the TS path); without, key frames exactly where
    /// the source has them (<c>-force_key_frames source</c>, the CMAF path, whose rungs cut where the source cut) and
    /// <c>zerolatency</c> (no look-ahead, no B-frames: the encoder adds no delay of its own).
    /// </summary>
    internal static IEnumerable<string> EncoderArguments(RenditionInfo rendition, string specifier, LiveOptions options, double? gopSeconds)
    {
        var inv = CultureInfo.InvariantCulture;
        var fps = rendition.FrameRate ?? 30;
        var kbps = rendition.VideoKbps;
        var gop = ((int)Math.Round(fps * (gopSeconds ?? 10 * options.SegmentSeconds))).ToString(inv);
        string[] common =
        [
            $"-c:v{specifier}", "libx264", $"-preset:v{specifier}", options.Preset,
            $"-b:v{specifier}", $"{kbps}k", $"-maxrate:v{specifier}", $"{kbps * 11 / 10}k", $"-bufsize:v{specifier}", $"{kbps * 2}k",
            $"-g:v{specifier}", gop, $"-sc_threshold:v{specifier}", "0",
        ];
        return gopSeconds is { } seconds
            ? [.. common, $"-keyint_min:v{specifier}", gop, $"-force_key_frames:v{specifier}", string.Create(inv, $"expr:gte(t,n_forced*{seconds})")]
            : [.. common, $"-tune:v{specifier}", "zerolatency", $"-force_key_frames:v{specifier}", "source"];
    }
}

/// <summary>
/// One ffmpeg, all renditions, as MPEG-TS HLS (the path with <c>Pasar:Live:LowLatencyPassthrough</c> off): the source
/// copied, each rung encoded at a fixed GOP of one segment, so that segments line up across renditions; audio copied
/// into every rendition. Segments and a private playlist per rendition and run, read by <see cref="HlsPackager"/>.
/// </summary>
internal sealed class TsHlsOutput(HlsPackager packager, IReadOnlyList<RenditionInfo> renditions, LiveOptions options) : ITranscodeOutput
{
    private int _run;

    public string SessionId => packager.SessionId;

    public IReadOnlyList<string> BeginRun(bool hasAudio, Action fail)
    {
        _run = packager.BeginRun(renditions);
        return Arguments(packager.Directory, _run, renditions, hasAudio, options);
    }

    public Task CompleteRunAsync()
    {
        packager.CompleteRun(_run);
        return Task.CompletedTask;
    }

    internal static IReadOnlyList<string> Arguments(string directory, int run, IReadOnlyList<RenditionInfo> renditions, bool hasAudio, LiveOptions options)
    {
        var inv = CultureInfo.InvariantCulture;
        var encoded = renditions.Where(r => !r.IsSource).ToList();
        var args = new List<string>(HlsTranscoder.FilterGraph(encoded, keepKeyFrames: false));
        var map = new List<string>();
        var index = 0;
        foreach (var rendition in renditions)
        {
            args.AddRange(["-map", rendition.IsSource ? "0:v:0" : $"[v{encoded.IndexOf(rendition) + 1}]"]);
            if (hasAudio)
            {
                args.AddRange(["-map", "0:a:0"]);
            }

            if (rendition.IsSource)
            {
                args.AddRange([$"-c:v:{index}", "copy"]);
            }
            else
            {
                args.AddRange(HlsTranscoder.EncoderArguments(rendition, $":{index}", options, options.SegmentSeconds));
            }

            map.Add(hasAudio ? $"v:{index},a:{index},name:{rendition.Name}" : $"v:{index},name:{rendition.Name}");
            index++;
        }

        if (hasAudio)
        {
            args.AddRange(["-c:a", "copy"]);
        }

        args.AddRange(
        [
            "-max_muxing_queue_size", "1024",
            "-f", "hls", "-hls_time", options.SegmentSeconds.ToString(inv), "-hls_list_size", "30",
            "-hls_flags", "+temp_file+independent_segments", "-hls_segment_type", "mpegts",
            "-hls_segment_filename", Path.Combine(directory, "%v", HlsPackager.SegmentPattern(run)),
            "-var_stream_map", string.Join(" ", map),
            Path.Combine(directory, "%v", HlsPackager.PrivatePlaylistName(run)),
        ]);
        return args;
    }
}
