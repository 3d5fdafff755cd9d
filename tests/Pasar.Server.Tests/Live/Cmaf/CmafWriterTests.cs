using System.Buffers;
using System.Buffers.Binary;
using System.Globalization;
using Pasar.Rtmp;
using Pasar.Server.Live.Cmaf;

namespace Pasar.Server.Tests.Live.Cmaf;

/// <summary>The fragmented-MP4 writer, checked by reading its boxes back and by ffprobe decoding what it wrote.</summary>
[Collection(FfmpegCollection.Name)]
public sealed class CmafWriterTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("pasar-cmaf-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public async Task A_b_frame_source_muxed_to_cmaf_decodes_every_frame_in_order()
    {
        // x264 high profile with B-frames: composition offsets are non-zero, and a wrong trun shows up as reordered
        // or missing frames in ffprobe's decode.
        var flv = Path.Combine(_dir, "source.flv");
        var (exit, output) = await Ffmpeg.RunAsync("ffmpeg",
        [
            "-hide_banner", "-loglevel", "error", "-y",
            "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=25", "-f", "lavfi", "-i", "sine=frequency=440",
            "-t", "4", "-c:v", "libx264", "-profile:v", "high", "-preset", "veryfast", "-bf", "3", "-g", "25",
            "-c:a", "aac", "-f", "flv", flv,
        ], TimeSpan.FromSeconds(60));
        Assert.True(exit == 0, output);

        var mp4 = Path.Combine(_dir, "out.mp4");
        var (sourceFrames, fragments) = Mux(File.ReadAllBytes(flv), mp4, startTimestamp: 0);
        Assert.Equal(100, sourceFrames);

        var boxes = TopLevelBoxes(File.ReadAllBytes(mp4));
        Assert.Equal(["ftyp", "moov"], boxes.Take(2).Select(b => b.Type));
        Assert.Equal(fragments * 2, boxes.Count - 2); // moof + mdat per fragment

        var (probeExit, frames) = await Ffmpeg.RunAsync("ffprobe",
            ["-v", "error", "-select_streams", "v:0", "-show_entries", "frame=pts", "-of", "csv=p=0", mp4], TimeSpan.FromSeconds(60));
        Assert.True(probeExit == 0, frames);
        var pts = frames.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => long.Parse(l.Trim().TrimEnd(','), CultureInfo.InvariantCulture)).ToList();
        Assert.Equal(sourceFrames, pts.Count);
        // Presentation order: evenly spaced, no duplicates, no gaps (25 fps at 90 kHz is 3600 ticks).
        for (var i = 1; i < pts.Count; i++)
        {
            Assert.Equal(3600, pts[i] - pts[i - 1]);
        }

        var (decodeExit, decodeErrors) = await Ffmpeg.RunAsync("ffmpeg", ["-v", "error", "-i", mp4, "-f", "null", "-"], TimeSpan.FromSeconds(60));
        Assert.True(decodeExit == 0 && decodeErrors.Trim().Length == 0, decodeErrors);
    }

    [Fact]
    public async Task Rtmp_timestamp_wrap_keeps_the_fragment_timeline_increasing()
    {
        var flv = Path.Combine(_dir, "source.flv");
        var (exit, output) = await Ffmpeg.RunAsync("ffmpeg",
        [
            "-hide_banner", "-loglevel", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=25",
            "-t", "2", "-c:v", "libx264", "-preset", "ultrafast", "-g", "25", "-f", "flv", flv,
        ], TimeSpan.FromSeconds(60));
        Assert.True(exit == 0, output);

        // Shifted so that RTMP's 32-bit millisecond clock wraps one second in.
        var mp4 = Path.Combine(_dir, "wrap.mp4");
        Mux(File.ReadAllBytes(flv), mp4, startTimestamp: uint.MaxValue - 999);
        var times = FragmentDecodeTimes(File.ReadAllBytes(mp4));
        Assert.True(times.Count >= 2);
        Assert.All(times.Zip(times.Skip(1)), pair => Assert.True(pair.Second > pair.First, $"{pair.First} then {pair.Second}"));
        Assert.True(times[^1] > (long)uint.MaxValue * 90, "the timeline continued past the wrap");

        var (decodeExit, decodeErrors) = await Ffmpeg.RunAsync("ffmpeg", ["-v", "error", "-i", mp4, "-f", "null", "-"], TimeSpan.FromSeconds(60));
        Assert.True(decodeExit == 0 && decodeErrors.Trim().Length == 0, decodeErrors);
    }

    [Fact]
    public void The_trun_marks_only_key_frames_as_sync_and_carries_signed_composition_offsets()
    {
        var fragment = CmafFragment.Build(7,
        [
            new CmafSample(1000, 3000, 6000, true, new byte[] { 1, 2, 3 }),
            new CmafSample(4000, 3000, -3000, false, new byte[] { 4, 5 }),
        ], [new CmafSample(50, 1024, 0, true, new byte[] { 9 })]);
        var boxes = TopLevelBoxes(fragment);
        Assert.Equal(["moof", "mdat"], boxes.Select(b => b.Type));
        var moof = fragment.AsSpan(boxes[0].Offset, boxes[0].Size);
        var trun = Find(moof, "trun");
        var entries = moof[(trun + 20)..];
        Assert.Equal(2u, BinaryPrimitives.ReadUInt32BigEndian(moof[(trun + 12)..]));
        Assert.Equal(0x02000000u, BinaryPrimitives.ReadUInt32BigEndian(entries[8..]));
        Assert.Equal(6000, BinaryPrimitives.ReadInt32BigEndian(entries[12..]));
        Assert.Equal(0x01010000u, BinaryPrimitives.ReadUInt32BigEndian(entries[24..]));
        Assert.Equal(-3000, BinaryPrimitives.ReadInt32BigEndian(entries[28..]));
        // data_offset points at the first video byte inside the mdat.
        var dataOffset = (int)BinaryPrimitives.ReadUInt32BigEndian(moof[(trun + 16)..]);
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 9 }, fragment.AsSpan(dataOffset, 6).ToArray());
        Assert.Equal(1000UL, BinaryPrimitives.ReadUInt64BigEndian(moof[(Find(moof, "tfdt") + 12)..]));
    }

    /// <summary>Feeds an FLV file's tags through the muxer, writing a fragment every 5 video frames.</summary>
    private static (int VideoFrames, int Fragments) Mux(byte[] flv, string output, uint startTimestamp)
    {
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(flv));
        Assert.True(FlvReader.TryReadHeader(ref reader, out _, out _));
        byte[]? avc = null;
        byte[]? aac = null;
        AacAudioSpecificConfig? audio = null;
        AvcDecoderConfiguration? video = null;
        CmafMuxer? muxer = null;
        using var file = File.Create(output);
        var frames = 0;
        var fragments = 0;
        void Write(bool flush)
        {
            if (flush)
            {
                muxer!.Flush();
            }

            var (v, a) = muxer!.Take();
            if (v.Count + a.Count > 0)
            {
                file.Write(CmafFragment.Build((uint)++fragments, v, a));
            }
        }

        while (FlvReader.TryReadTag(ref reader, out var tag))
        {
            var body = tag.Data.ToArray();
            var timestamp = unchecked(tag.Timestamp + startTimestamp);
            if (tag.Type == FlvTagType.Audio && body.Length > 2)
            {
                if (body[1] == 0)
                {
                    aac = body[2..];
                    AacAudioSpecificConfig.TryParse(aac, out audio);
                }
                else
                {
                    muxer?.AddAudio(timestamp, body.AsSpan(2));
                }
            }
            else if (tag.Type == FlvTagType.Video && body.Length > 5)
            {
                if (body[1] == 0)
                {
                    avc = body[5..];
                    Assert.True(AvcDecoderConfiguration.TryParse(avc, out video));
                    continue;
                }

                if (muxer is null)
                {
                    muxer = new CmafMuxer(audio?.SampleRate ?? 48000);
                    file.Write(CmafInitSegment.Build(avc, video!.Width ?? 0, video.Height ?? 0, aac ?? [], audio));
                }

                var cto = ((body[2] << 16) | (body[3] << 8) | body[4]) << 8 >> 8;
                muxer.AddVideo(timestamp, cto, (body[0] >> 4) == 1, body.AsSpan(5));
                if (++frames % 5 == 0)
                {
                    Write(flush: false);
                }
            }
        }

        Write(flush: true);
        return (frames, fragments);
    }

    private static List<(string Type, int Offset, int Size)> TopLevelBoxes(byte[] data)
    {
        var boxes = new List<(string, int, int)>();
        for (var offset = 0; offset + 8 <= data.Length;)
        {
            var size = (int)BinaryPrimitives.ReadUInt32BigEndian(data.AsSpan(offset));
            Assert.True(size >= 8 && offset + size <= data.Length, $"box at {offset} has size {size}");
            boxes.Add((System.Text.Encoding.ASCII.GetString(data, offset + 4, 4), offset, size));
            offset += size;
        }

        return boxes;
    }

    private static List<long> FragmentDecodeTimes(byte[] data)
    {
        var times = new List<long>();
        foreach (var (type, offset, size) in TopLevelBoxes(data).Where(b => b.Type == "moof"))
        {
            var moof = data.AsSpan(offset, size);
            times.Add((long)BinaryPrimitives.ReadUInt64BigEndian(moof[(Find(moof, "tfdt") + 12)..]));
        }

        return times;
    }

    /// <summary>Offset of the first box of a type anywhere in a moof (traf children are nested one level).</summary>
    private static int Find(ReadOnlySpan<byte> moof, string type)
    {
        var index = moof.IndexOf(System.Text.Encoding.ASCII.GetBytes(type));
        Assert.True(index >= 4, $"no {type} box");
        return index - 4;
    }
}
