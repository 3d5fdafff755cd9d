using System.Globalization;
using System.Text;

namespace Pasar.Server.Live;

/// <summary>A product moment of a replay: a pin or a flash sale, at its offset in the recording.</summary>
internal sealed record ReplayMoment(double AtSeconds, string Kind, string ProductId, string Title, long PriceMinor, string Currency);

/// <summary>
/// Adds one <c>#EXT-X-DATERANGE</c> per moment to a VOD playlist (RFC 8216 §4.4.5.1), class
/// <c>com.pasar.moment</c>, dated from the recording's start. A pure function: the replay serving path calls it.
/// </summary>
internal static class ReplayDateRanges
{
    public const string Class = "com.pasar.moment";

    public static string AddTo(string playlist, DateTimeOffset recordingStart, IReadOnlyList<ReplayMoment> moments)
    {
        if (moments.Count == 0)
        {
            return playlist;
        }

        var tags = new StringBuilder();
        for (var i = 0; i < moments.Count; i++)
        {
            var m = moments[i];
            var start = recordingStart.AddSeconds(m.AtSeconds).ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);
            tags.Append(CultureInfo.InvariantCulture,
                $"#EXT-X-DATERANGE:ID=\"moment-{i}\",CLASS=\"{Class}\",START-DATE=\"{start}\",X-KIND=\"{Quote(m.Kind)}\",X-PRODUCT-ID=\"{Quote(m.ProductId)}\",X-TITLE=\"{Quote(m.Title)}\",X-PRICE-MINOR={m.PriceMinor},X-CURRENCY=\"{Quote(m.Currency)}\"\n");
        }

        // A DATERANGE needs a PROGRAM-DATE-TIME in the playlist to anchor START-DATE; add one before the first segment if missing.
        var lines = playlist.Replace("\r\n", "\n", StringComparison.Ordinal).Split('\n').ToList();
        var first = lines.FindIndex(l => l.StartsWith("#EXTINF", StringComparison.Ordinal) || l.StartsWith("#EXT-X-PROGRAM-DATE-TIME", StringComparison.Ordinal));
        if (first < 0)
        {
            return playlist.TrimEnd('\n') + "\n" + tags;
        }

        var insert = tags.ToString();
        if (!lines[first].StartsWith("#EXT-X-PROGRAM-DATE-TIME", StringComparison.Ordinal))
        {
            insert += "#EXT-X-PROGRAM-DATE-TIME:" + recordingStart.ToUniversalTime().ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture) + "\n";
        }

        lines.Insert(first, insert.TrimEnd('\n'));
        return string.Join('\n', lines);
    }

    // Quoted-string attribute values may not contain a double quote or a line break.
    private static string Quote(string value) => value.Replace('"', '\'').Replace('\n', ' ').Replace('\r', ' ');
}
