using System.Data.Common;
using System.Globalization;
using System.Text;
using Dapper;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Live;

/// <summary>A product moment of a replay: a pin or a flash sale, at its offset in the recording (SPEC §12).</summary>
internal sealed record ReplayMoment(double AtSeconds, string Kind, string ProductId, string Title, long PriceMinor, string Currency);

/// <summary><c>GET /api/live/sessions/{id}/replay</c>: where the replay plays, how long it is, and its product moments.</summary>
internal sealed record Replay(string Url, double DurationSeconds, IReadOnlyList<ReplayMoment> Moments);

/// <summary>
/// Records the product moments of a show as they happen, in the caller's transaction, so a pin or a flash sale
/// that commits is a moment and one that rolls back is not. LiveRoom (pins) and FlashSales call it; Live owns it,
/// so neither Live nor the replay depends on those modules (ADR 0024).
/// </summary>
internal interface IReplayMoments
{
    public const string Pin = "pin";
    public const string FlashSale = "flashSale";

    /// <summary>A moment of <paramref name="sessionId"/> at <paramref name="at"/>, with the title and price it showed then.</summary>
    Task RecordAsync(DbConnection c, DbTransaction? tx, string sessionId, string kind, string productId, string title, long priceMinor, string currency, DateTimeOffset at, CancellationToken ct);
}

/// <summary>
/// The <c>live_moments</c> table. Moments are kept with their wall-clock time; when the replay is written their
/// offsets in the recording are worked out from the replay's own segment times (<see cref="ReplayTimeline"/>), and
/// the replay's media playlists get one <c>#EXT-X-DATERANGE</c> per moment (<see cref="ReplayDateRanges"/>).
/// </summary>
internal sealed class ReplayMomentLog(Database db) : IReplayMoments
{
    public Task RecordAsync(DbConnection c, DbTransaction? tx, string sessionId, string kind, string productId, string title, long priceMinor, string currency, DateTimeOffset at, CancellationToken ct) =>
        c.ExecuteAsync(new CommandDefinition(
            """
            INSERT INTO live_moments (id, session_id, kind, product_id, title, price_minor, currency, at)
            VALUES (@id, @sessionId, @kind, @productId, @title, @priceMinor, @currency, @at)
            """,
            new { id = Ids.New(), sessionId, kind, productId, title, priceMinor, currency, at = at.ToUnixTimeMilliseconds() }, tx, cancellationToken: ct));

    /// <summary>The replay of an ended session: null when it has none yet. Moments in the order they happened.</summary>
    public async Task<(double? DurationSeconds, IReadOnlyList<ReplayMoment> Moments)> ReadAsync(string sessionId, long? startedAt, CancellationToken ct)
    {
        await using var c = await db.OpenAsync(ct);
        var replayMs = await c.ExecuteScalarAsync<long?>(new CommandDefinition(
            "SELECT replay_ms FROM live_sessions WHERE id = @sessionId", new { sessionId }, cancellationToken: ct));
        var rows = await c.QueryAsync<MomentRow>(new CommandDefinition(
            "SELECT id AS Id, kind AS Kind, product_id AS ProductId, title AS Title, price_minor AS PriceMinor, currency AS Currency, at AS At, offset_ms AS OffsetMs FROM live_moments WHERE session_id = @sessionId ORDER BY at, id",
            new { sessionId }, cancellationToken: ct));
        var moments = rows.Select(r =>
        {
            // A moment not placed yet (a replay written before moments were) falls back to its time since going live.
            var ms = r.OffsetMs ?? Math.Max(0, r.At - (startedAt ?? r.At));
            if (replayMs is { } total)
            {
                ms = Math.Min(ms, total);
            }

            return new ReplayMoment(Math.Round(ms / 1000.0, 3), r.Kind, r.ProductId, r.Title, r.PriceMinor, r.Currency);
        }).ToList();
        return (replayMs is { } d ? Math.Round(d / 1000.0, 3) : null, moments);
    }

    /// <summary>
    /// Called by the code that writes a replay, once its media playlists are on disk: places every moment in the
    /// recording, keeps the replay's length, and adds the moments to each media playlist as DATERANGE tags.
    /// </summary>
    public async Task PlaceInReplayAsync(string sessionId, string sessionDirectory, long? startedAt, CancellationToken ct)
    {
        var playlists = Directory.Exists(sessionDirectory)
            ? Directory.EnumerateDirectories(sessionDirectory).Select(d => Path.Combine(d, HlsPackager.ReplayFile)).Where(File.Exists).Order(StringComparer.Ordinal).ToList()
            : [];
        if (playlists.Count == 0)
        {
            return;
        }

        // The in-process source rendition knows each segment's wall-clock time (PROGRAM-DATE-TIME), which maps a
        // moment across reconnect gaps; a playlist without times falls back to the session's start.
        var fallbackStart = startedAt is { } s ? DateTimeOffset.FromUnixTimeMilliseconds(s) : (DateTimeOffset?)null;
        var timelines = playlists.Select(p => ReplayTimeline.Parse(File.ReadAllText(p), fallbackStart)).ToList();
        var reference = timelines.FirstOrDefault(t => t.HasProgramDateTimes) ?? timelines[0];

        await using var c = await db.OpenAsync(ct);
        var rows = (await c.QueryAsync<MomentRow>(new CommandDefinition(
            "SELECT id AS Id, kind AS Kind, product_id AS ProductId, title AS Title, price_minor AS PriceMinor, currency AS Currency, at AS At, offset_ms AS OffsetMs FROM live_moments WHERE session_id = @sessionId ORDER BY at, id",
            new { sessionId }, cancellationToken: ct))).AsList();
        var placed = new List<DateRangeMoment>();
        foreach (var row in rows)
        {
            var offset = reference.OffsetOf(DateTimeOffset.FromUnixTimeMilliseconds(row.At));
            await c.ExecuteAsync(new CommandDefinition(
                "UPDATE live_moments SET offset_ms = @ms WHERE id = @Id", new { ms = (long)Math.Round(offset * 1000), row.Id }, cancellationToken: ct));
            placed.Add(new DateRangeMoment(row.Id, reference.WallClockAt(offset),
                new ReplayMoment(offset, row.Kind, row.ProductId, row.Title, row.PriceMinor, row.Currency)));
        }

        await c.ExecuteAsync(new CommandDefinition(
            "UPDATE live_sessions SET replay_ms = @ms WHERE id = @sessionId", new { ms = (long)Math.Round(reference.DurationSeconds * 1000), sessionId }, cancellationToken: ct));

        var recordingStart = reference.Start ?? fallbackStart ?? DateTimeOffset.UnixEpoch;
        foreach (var path in playlists)
        {
            HlsPackager.WriteAtomically(path, ReplayDateRanges.AddTo(File.ReadAllText(path), recordingStart, placed));
        }
    }

    private sealed class MomentRow
    {
        public string Id { get; init; } = "";
        public string Kind { get; init; } = "";
        public string ProductId { get; init; } = "";
        public string Title { get; init; } = "";
        public long PriceMinor { get; init; }
        public string Currency { get; init; } = "";
        public long At { get; init; }
        public long? OffsetMs { get; init; }
    }
}

/// <summary>A moment ready for a playlist: its tag id and the wall-clock START-DATE a player maps back to its offset.</summary>
internal sealed record DateRangeMoment(string Id, DateTimeOffset StartDate, ReplayMoment Moment);

/// <summary>
/// A VOD media playlist's segments on two clocks: their offset in the recording and, where the playlist says it
/// (<c>#EXT-X-PROGRAM-DATE-TIME</c>), their wall-clock start. Maps a moment's wall-clock time to its offset: inside a
/// segment exactly, in a gap (a publisher reconnecting) to the first segment after it.
/// </summary>
internal sealed class ReplayTimeline
{
    private readonly List<(DateTimeOffset? Wall, double Offset, double Duration)> _segments;
    private readonly DateTimeOffset? _fallbackStart;

    private ReplayTimeline(List<(DateTimeOffset? Wall, double Offset, double Duration)> segments, DateTimeOffset? fallbackStart)
    {
        _segments = segments;
        _fallbackStart = fallbackStart;
        DurationSeconds = segments.Count == 0 ? 0 : segments[^1].Offset + segments[^1].Duration;
    }

    public double DurationSeconds { get; }

    public bool HasProgramDateTimes => _segments.Any(s => s.Wall is not null);

    /// <summary>The wall-clock time of the first frame: the first segment's, else the fallback.</summary>
    public DateTimeOffset? Start => _segments.Count > 0 && _segments[0].Wall is { } w ? w : _fallbackStart;

    public static ReplayTimeline Parse(string playlist, DateTimeOffset? fallbackStart)
    {
        var segments = new List<(DateTimeOffset? Wall, double Offset, double Duration)>();
        DateTimeOffset? pending = null;
        double? duration = null;
        var offset = 0.0;
        DateTimeOffset? previousEnd = null;
        var discontinuity = false;
        foreach (var raw in playlist.Split('\n'))
        {
            var line = raw.Trim();
            if (line.StartsWith("#EXT-X-PROGRAM-DATE-TIME:", StringComparison.Ordinal)
                && DateTimeOffset.TryParse(line["#EXT-X-PROGRAM-DATE-TIME:".Length..], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var wall))
            {
                pending = wall;
            }
            else if (line.StartsWith("#EXTINF:", StringComparison.Ordinal)
                && double.TryParse(line["#EXTINF:".Length..].Split(',')[0], NumberStyles.Float, CultureInfo.InvariantCulture, out var d))
            {
                duration = d;
            }
            else if (line == "#EXT-X-DISCONTINUITY")
            {
                discontinuity = true;
            }
            else if (line.Length > 0 && !line.StartsWith('#') && duration is { } length)
            {
                // Without its own tag a segment starts where the previous one ended, unless a discontinuity broke the clock.
                var start = pending ?? (discontinuity ? null : previousEnd);
                segments.Add((start, offset, length));
                offset += length;
                previousEnd = start?.AddSeconds(length);
                pending = null;
                duration = null;
                discontinuity = false;
            }
        }

        return new ReplayTimeline(segments, fallbackStart);
    }

    /// <summary>Seconds into the recording at which <paramref name="at"/> happened, within [0, duration].</summary>
    public double OffsetOf(DateTimeOffset at)
    {
        if (!HasProgramDateTimes)
        {
            var since = _fallbackStart is { } s ? (at - s).TotalSeconds : 0;
            return Math.Clamp(since, 0, DurationSeconds);
        }

        foreach (var (wall, offset, duration) in _segments)
        {
            if (wall is not { } w)
            {
                continue;
            }

            if (at < w)
            {
                return offset; // before the recording, or in a gap while the publisher was away
            }

            if (at < w.AddSeconds(duration))
            {
                return offset + (at - w).TotalSeconds;
            }
        }

        return DurationSeconds;
    }

    /// <summary>The wall-clock time a player reads for <paramref name="offset"/> (the inverse of <see cref="OffsetOf"/>).</summary>
    public DateTimeOffset WallClockAt(double offset)
    {
        foreach (var (wall, start, duration) in _segments)
        {
            if (wall is { } w && offset < start + duration)
            {
                return w.AddSeconds(Math.Max(0, offset - start));
            }
        }

        var last = _segments.LastOrDefault(s => s.Wall is not null);
        return last.Wall is { } lw ? lw.AddSeconds(offset - last.Offset) : (_fallbackStart ?? DateTimeOffset.UnixEpoch).AddSeconds(offset);
    }
}

/// <summary>
/// Adds one <c>#EXT-X-DATERANGE</c> per moment to a VOD media playlist (RFC 8216 §4.4.5.1), class
/// <c>com.pasar.moment</c>, with the product and kind as <c>X-PASAR-*</c> attributes. A pure function: the code that
/// writes a replay playlist calls it (through <see cref="ReplayMomentLog.PlaceInReplayAsync"/>).
/// </summary>
internal static class ReplayDateRanges
{
    public const string Class = "com.pasar.moment";

    public static string AddTo(string playlist, DateTimeOffset recordingStart, IReadOnlyList<DateRangeMoment> moments)
    {
        // Written again on a rebuilt replay: earlier moment tags go first, so each moment appears once.
        var lines = playlist.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n')
            .Where(l => !l.StartsWith("#EXT-X-DATERANGE:", StringComparison.Ordinal) || !l.Contains($"CLASS=\"{Class}\"", StringComparison.Ordinal))
            .ToList();
        if (moments.Count == 0)
        {
            return string.Join('\n', lines);
        }

        var tags = new StringBuilder();
        foreach (var (id, startDate, m) in moments)
        {
            tags.Append(CultureInfo.InvariantCulture,
                $"#EXT-X-DATERANGE:ID=\"moment-{Quote(id)}\",CLASS=\"{Class}\",START-DATE=\"{Date(startDate)}\",X-PASAR-KIND=\"{Quote(m.Kind)}\",X-PASAR-PRODUCT-ID=\"{Quote(m.ProductId)}\",X-PASAR-TITLE=\"{Quote(m.Title)}\",X-PASAR-PRICE-MINOR={m.PriceMinor},X-PASAR-CURRENCY=\"{Quote(m.Currency)}\",X-PASAR-AT-SECONDS={m.AtSeconds.ToString("0.###", CultureInfo.InvariantCulture)}\n");
        }

        // A DATERANGE needs a PROGRAM-DATE-TIME in the playlist to anchor START-DATE: one goes before the first segment if missing.
        var first = lines.FindIndex(l => l.StartsWith("#EXTINF", StringComparison.Ordinal) || l.StartsWith("#EXT-X-PROGRAM-DATE-TIME", StringComparison.Ordinal));
        if (first < 0)
        {
            return string.Join('\n', lines).TrimEnd('\n') + "\n" + tags;
        }

        var insert = tags.ToString();
        if (!lines.Any(l => l.StartsWith("#EXT-X-PROGRAM-DATE-TIME", StringComparison.Ordinal)))
        {
            insert += "#EXT-X-PROGRAM-DATE-TIME:" + Date(recordingStart) + "\n";
        }

        lines.Insert(first, insert.TrimEnd('\n'));
        return string.Join('\n', lines);
    }

    private static string Date(DateTimeOffset at) => at.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    // Quoted-string attribute values may not contain a double quote or a line break.
    private static string Quote(string value) => value.Replace('"', '\'').Replace('\n', ' ').Replace('\r', ' ');
}
