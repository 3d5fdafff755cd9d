using System.Globalization;
using System.Text.RegularExpressions;

namespace Pasar.Server.Live;

/// <summary>The <c>Pasar:Live</c> section: sessions, transcoding and HLS.</summary>
internal sealed class LiveOptions
{
    public const string Section = "Pasar:Live";

    /// <summary>How long a live session waits for its publisher to come back before it ends.</summary>
    public int ReconnectGraceSeconds { get; set; } = 30;

    /// <summary>HLS segment length; also the key frame interval of every transcoded rendition.</summary>
    public int SegmentSeconds { get; set; } = 2;

    /// <summary>
    /// Renditions transcoded below the source, comma-separated, from <c>1080p60, 720p30, 480p30, 360p30</c>.
    /// Only those strictly below the source height are made. Empty means passthrough only.
    /// </summary>
    public string Ladder { get; set; } = "480p30,360p30";

    /// <summary>
    /// Most live sessions transcoded at once; later ones get the passthrough rendition only. Null means one per
    /// core. Measured in docs/benchmarks.md: 2 cores hold 4–5 sessions of 1080p60 → 480p30 + 360p30 at ultrafast in
    /// real time with nothing else to do; one per core leaves the other half for viewers, chat and orders.
    /// </summary>
    public int? MaxTranscodedSessions { get; set; }

    /// <summary>x264 preset of the transcoded renditions.</summary>
    public string Preset { get; set; } = "ultrafast";

    /// <summary>The ffmpeg executable.</summary>
    public string FfmpegPath { get; set; } = "ffmpeg";

    /// <summary>Segments in a live playlist (the recording keeps them all).</summary>
    public int LiveWindowSegments { get; set; } = 10;

    /// <summary>LL-HLS part length in seconds for the in-process CMAF packager (<c>Pasar:Live:PartSeconds</c>).</summary>
    public double PartSeconds { get; set; } = 0.333;

    /// <summary>
    /// Package sessions with no rung to transcode in-process as LL-HLS over CMAF (no ffmpeg). On by default; off
    /// falls back to ffmpeg's MPEG-TS HLS. Transcoded sessions keep ffmpeg's MPEG-TS HLS either way.
    /// </summary>
    public bool LowLatencyPassthrough { get; set; } = true;

    /// <summary>
    /// How long before a scheduled show's start its subscribers get SHOW_STARTING (<c>Pasar:Live:ReminderLeadMinutes</c>).
    /// Fixed for a show when it is scheduled or moved. Fractions are allowed (tests use seconds).
    /// </summary>
    public double ReminderLeadMinutes { get; set; } = 10;

    /// <summary>A scheduled show not started this long after its time is cancelled (<c>Pasar:Live:ScheduledExpiryHours</c>).</summary>
    public double ScheduledExpiryHours { get; set; } = 6;

    /// <summary>Subscribers notified per transaction when a show's notice goes out (<c>Pasar:Live:ReminderBatchSize</c>).</summary>
    public int ReminderBatchSize { get; set; } = 1000;

    public TimeSpan ReminderLead => TimeSpan.FromMinutes(ReminderLeadMinutes);

    public TimeSpan ScheduledExpiry => TimeSpan.FromHours(ScheduledExpiryHours);

    public int EffectiveMaxTranscodedSessions => MaxTranscodedSessions ?? Environment.ProcessorCount;

    public IReadOnlyList<LadderRung> ParsedLadder => LadderRung.ParseList(Ladder);
}

/// <summary>The <c>Pasar:Rtmp</c> section.</summary>
internal sealed class RtmpListenOptions
{
    public const string Section = "Pasar:Rtmp";

    /// <summary>TCP port for RTMP publishers; 0 picks a free one at start (tests).</summary>
    public int Port { get; set; } = 1935;

    /// <summary>The interface RTMP listens on: every one by default, since publishers are elsewhere (OBS, phones).</summary>
    public string Address { get; set; } = "0.0.0.0";

    internal System.Net.IPAddress ParsedAddress => System.Net.IPAddress.Parse(Address);
}

/// <summary>One rendition of the ladder: a height, a frame rate and the bitrate it is encoded at.</summary>
internal sealed record LadderRung(string Name, int Height, int FrameRate, int VideoKbps)
{
    public static readonly IReadOnlyList<LadderRung> Known =
    [
        new("1080p60", 1080, 60, 6000),
        new("720p30", 720, 30, 2800),
        new("480p30", 480, 30, 1400),
        new("360p30", 360, 30, 800),
    ];

    public static bool TryParse(string text, out LadderRung rung)
    {
        rung = Known.FirstOrDefault(k => string.Equals(k.Name, text.Trim(), StringComparison.OrdinalIgnoreCase))!;
        return rung is not null;
    }

    public static IReadOnlyList<LadderRung> ParseList(string? text)
    {
        var rungs = new List<LadderRung>();
        foreach (var part in (text ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (!TryParse(part, out var rung))
            {
                throw new FormatException($"Unknown rendition '{part}'.");
            }

            if (!rungs.Contains(rung))
            {
                rungs.Add(rung);
            }
        }

        return [.. rungs.OrderByDescending(r => r.Height)];
    }

    /// <summary>
    /// The rungs strictly below the source's short side, highest first: a rung's number names the short side, so
    /// "480p" of a 720x1280 (vertical) source is 480 wide, as of a 1280x720 one it is 480 high.
    /// </summary>
    public static IReadOnlyList<LadderRung> Below(IReadOnlyList<LadderRung> ladder, int sourceWidth, int sourceHeight)
    {
        var shortSide = sourceWidth > 0 && sourceHeight > 0 ? Math.Min(sourceWidth, sourceHeight) : sourceHeight;
        return [.. ladder.Where(r => r.Height < shortSide).OrderByDescending(r => r.Height)];
    }

    /// <summary>
    /// This rung's frame size for a source: the short side is the rung's number, the long side keeps the source's
    /// aspect ratio, rounded to an even number (x264's 4:2:0). An unknown source size gives a 16:9 landscape guess
    /// of width 0, the encoder's <c>-2</c>.
    /// </summary>
    public (int Width, int Height) SizeFor(int sourceWidth, int sourceHeight)
    {
        if (sourceWidth <= 0 || sourceHeight <= 0)
        {
            return (0, Height);
        }

        static int Even(double value) => Math.Max(2, (int)Math.Round(value / 2) * 2);
        return sourceHeight > sourceWidth
            ? (Height, Even(sourceHeight * (double)Height / sourceWidth))
            : (Even(sourceWidth * (double)Height / sourceHeight), Height);
    }

    public string Describe() => string.Create(CultureInfo.InvariantCulture, $"{Name} ({VideoKbps} kbit/s)");
}

internal sealed partial class LiveOptionsValidator : Microsoft.Extensions.Options.IValidateOptions<LiveOptions>
{
    public Microsoft.Extensions.Options.ValidateOptionsResult Validate(string? name, LiveOptions options)
    {
        var failures = new List<string>();
        if (options.ReconnectGraceSeconds is < 1 or > 3600)
        {
            failures.Add("Pasar:Live:ReconnectGraceSeconds must be between 1 and 3600.");
        }

        if (options.SegmentSeconds is < 1 or > 10)
        {
            failures.Add("Pasar:Live:SegmentSeconds must be between 1 and 10.");
        }

        try
        {
            _ = options.ParsedLadder;
        }
        catch (FormatException ex)
        {
            failures.Add($"Pasar:Live:Ladder: {ex.Message} Known: {string.Join(", ", LadderRung.Known.Select(k => k.Name))}.");
        }

        if (options.MaxTranscodedSessions is < 0 or > 1000)
        {
            failures.Add("Pasar:Live:MaxTranscodedSessions must be between 0 and 1000.");
        }

        if (!PresetPattern().IsMatch(options.Preset ?? ""))
        {
            failures.Add("Pasar:Live:Preset must be an x264 preset such as ultrafast or veryfast.");
        }

        if (options.PartSeconds is < 0.1 or > 2 || options.PartSeconds * 2 > options.SegmentSeconds)
        {
            failures.Add("Pasar:Live:PartSeconds must be between 0.1 and 2, and at most half of Pasar:Live:SegmentSeconds.");
        }

        if (options.LiveWindowSegments is < 3 or > 1000)
        {
            failures.Add("Pasar:Live:LiveWindowSegments must be between 3 and 1000.");
        }

        if (!(options.ReminderLeadMinutes is >= 0 and <= 1440))
        {
            failures.Add("Pasar:Live:ReminderLeadMinutes must be between 0 and 1440 (a day).");
        }

        if (!(options.ScheduledExpiryHours is > 0 and <= 168))
        {
            failures.Add("Pasar:Live:ScheduledExpiryHours must be more than 0 and at most 168 (a week).");
        }

        if (options.ReminderBatchSize is < 1 or > 10_000)
        {
            failures.Add("Pasar:Live:ReminderBatchSize must be between 1 and 10000.");
        }

        return failures.Count == 0 ? Microsoft.Extensions.Options.ValidateOptionsResult.Success : Microsoft.Extensions.Options.ValidateOptionsResult.Fail(failures);
    }

    [GeneratedRegex("^(ultrafast|superfast|veryfast|faster|fast|medium|slow|slower|veryslow)$")]
    private static partial Regex PresetPattern();
}
