using System.Buffers;
using System.IO.Pipelines;
using System.Net.Sockets;
using Pasar.Rtmp;

namespace Pasar.Server.Live.Cmaf;

/// <summary>
/// The transcoded rungs of a CMAF session: one ffmpeg encodes every rung and writes each as FLV to its own Unix
/// socket, which this reads and hands, frame by frame, to the rung's <see cref="LowLatencyPackager"/> — the same
/// packager, parts and segments as the passthrough rendition. ffmpeg keeps the publisher's timestamps
/// (<c>-copyts</c>) and puts key frames where the source has them, so each rung cuts its segments where the
/// passthrough rendition cut (<see cref="LowLatencyPackager.Follow"/>) and ABR switches land on the same pictures.
/// </summary>
internal sealed class CmafRungOutput(
    CmafSession session,
    string sessionId,
    IReadOnlyList<RenditionInfo> rungs,
    LiveOptions options,
    LiveMetrics metrics,
    ILogger logger) : ITranscodeOutput
{
    private readonly List<(Socket Listener, string Path, Task Reader)> _run = [];

    public string SessionId => sessionId;

    public IReadOnlyList<string> BeginRun(bool hasAudio, Action fail)
    {
        var args = new List<string> { "-copyts" };
        args.AddRange(HlsTranscoder.FilterGraph(rungs, keepKeyFrames: true));
        for (var i = 0; i < rungs.Count; i++)
        {
            var rung = rungs[i];
            var packager = session.Rung(rung);
            packager.BeginRun();

            // A short path of its own (a Unix socket path is limited to about 100 bytes), listening before ffmpeg starts.
            var path = Path.Combine(Path.GetTempPath(), $"pasar-{Guid.NewGuid():N}.sock");
            var listener = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
            listener.Bind(new UnixDomainSocketEndPoint(path));
            listener.Listen(1);
            _run.Add((listener, path, Task.Run(() => ReadAsync(listener, path, packager, rung, fail))));

            args.AddRange(["-map", $"[v{i + 1}]"]);
            if (hasAudio)
            {
                args.AddRange(["-map", "0:a:0", "-c:a", "copy"]);
            }

            args.AddRange(HlsTranscoder.EncoderArguments(rung, "", options, gopSeconds: null));
            args.AddRange(["-fps_mode:v", "passthrough", "-max_muxing_queue_size", "1024", "-flush_packets", "1",
                "-f", "flv", "-flvflags", "no_duration_filesize", "unix:" + path]);
        }

        return args;
    }

    public async Task CompleteRunAsync()
    {
        foreach (var (listener, path, reader) in _run)
        {
            try
            {
                // ffmpeg has exited: each reader meets the end of its stream (or, if ffmpeg never connected, is stopped here).
                await reader.WaitAsync(TimeSpan.FromSeconds(5));
            }
            catch (TimeoutException)
            {
                logger.LogWarning("Live {SessionId}: a rung's output did not end with ffmpeg", sessionId);
            }
            finally
            {
                listener.Dispose();
                File.Delete(path);
            }
        }

        _run.Clear();
    }

    private async Task ReadAsync(Socket listener, string path, LowLatencyPackager packager, RenditionInfo rung, Action fail)
    {
        try
        {
            using var connection = await listener.AcceptAsync();

            // Connected: the socket's name is no longer needed, so a node killed mid-show leaves no file behind.
            File.Delete(path);
            await using var stream = new NetworkStream(connection, ownsSocket: false);
            var reader = PipeReader.Create(stream);
            var tags = new FlvRungReader(rung);
            while (true)
            {
                var read = await reader.ReadAsync();
                var buffer = read.Buffer;
                var consumed = tags.Read(buffer, packager);
                reader.AdvanceTo(consumed, buffer.End);
                if (read.IsCompleted)
                {
                    break;
                }
            }

            await reader.CompleteAsync();
        }
        catch (ObjectDisposedException)
        {
            // the run was completed before ffmpeg connected (it failed to start)
        }
        catch (Exception ex)
        {
            // A bad fragment from ffmpeg, or a packaging failure: counted, and this ffmpeg is replaced at the next key frame.
            metrics.PackagingFailures.Add(1, new KeyValuePair<string, object?>("stage", "rung"));
            logger.LogError(ex, "Live {SessionId}: reading rung {Rung} from ffmpeg failed; restarting ffmpeg", sessionId, rung.Name);
            fail();
        }
        finally
        {
            packager.EndRun();
        }
    }

    /// <summary>FLV tags from ffmpeg turned into the frames the packager takes, with the format from its sequence headers.</summary>
    internal sealed class FlvRungReader(RenditionInfo rung)
    {
        private bool _header;
        private AvcDecoderConfiguration? _video;
        private byte[] _videoSequenceHeader = [];
        private AacAudioSpecificConfig? _audio;
        private byte[] _audioSequenceHeader = [];
        private StreamFormat? _format;

        /// <returns>How far the buffer was consumed (whole tags only).</returns>
        /// <exception cref="InvalidDataException">Not FLV, or not H.264/AAC.</exception>
        public SequencePosition Read(ReadOnlySequence<byte> buffer, LowLatencyPackager packager)
        {
            var reader = new SequenceReader<byte>(buffer);
            if (!_header)
            {
                if (!FlvReader.TryReadHeader(ref reader, out _, out _))
                {
                    return reader.Position;
                }

                _header = true;
            }

            while (FlvReader.TryReadTag(ref reader, out var tag))
            {
                var body = tag.Data.IsSingleSegment ? tag.Data.First : tag.Data.ToArray();
                if (tag.Type == FlvTagType.Video && body.Length >= 5)
                {
                    Video(tag.Timestamp, body, packager);
                }
                else if (tag.Type == FlvTagType.Audio && body.Length >= 2)
                {
                    Audio(tag.Timestamp, body, packager);
                }
            }

            return reader.Position;
        }

        private void Video(uint timestamp, ReadOnlyMemory<byte> body, LowLatencyPackager packager)
        {
            var span = body.Span;
            if ((span[0] & 0x0F) != 7)
            {
                throw new InvalidDataException($"ffmpeg wrote video codec {span[0] & 0x0F} for rung {rung.Name}, not H.264.");
            }

            if (span[1] == 0)
            {
                if (!AvcDecoderConfiguration.TryParse(span[5..], out var configuration))
                {
                    throw new InvalidDataException($"ffmpeg wrote an unreadable AVC configuration for rung {rung.Name}.");
                }

                (_video, _videoSequenceHeader, _format) = (configuration, body.ToArray(), null);
                return;
            }

            if (span[1] != 1)
            {
                return; // end of sequence
            }

            var composition = (span[2] << 16) | (span[3] << 8) | span[4];
            composition = (composition << 8) >> 8;
            var keyframe = span[0] >> 4 == 1;
            packager.Write(packager.NeedsFormat ? Format() : null, new RtmpMediaPacket(RtmpMediaType.Video, timestamp, body, keyframe, false, composition));
        }

        private void Audio(uint timestamp, ReadOnlyMemory<byte> body, LowLatencyPackager packager)
        {
            var span = body.Span;
            if (span[0] >> 4 != 10)
            {
                throw new InvalidDataException($"ffmpeg wrote audio format {span[0] >> 4} for rung {rung.Name}, not AAC.");
            }

            if (span[1] == 0)
            {
                if (AacAudioSpecificConfig.TryParse(span[2..], out var configuration))
                {
                    (_audio, _audioSequenceHeader, _format) = (configuration, body.ToArray(), null);
                }

                return;
            }

            packager.Write((StreamFormat?)null, new RtmpMediaPacket(RtmpMediaType.Audio, timestamp, body, false, false, 0));
        }

        private StreamFormat? Format() => _format ??= _video is null
            ? null
            : new StreamFormat(_video, _videoSequenceHeader, _audio, _audioSequenceHeader,
                _video.Width ?? rung.Width, _video.Height ?? rung.Height, rung.FrameRate);
    }
}
