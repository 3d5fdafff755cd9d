using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Net.Http.Headers;
using Pasar.Server.Platform.Http;

namespace Pasar.Server.Live;

/// <summary>
/// Serves a session's HLS files: playlists short-cached, segments immutable. Only names Pasar itself writes are
/// served (a whitelist of shapes, checked before any path is built), so no request reaches outside the session's folder.
/// </summary>
internal static partial class HlsApi
{
    public static void MapHls(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/hls/{sessionId}").WithTags("Live").AllowAnonymous()
            .MapGet("/{**file}", ServeAsync)
            .WithSummary("HLS playback: master.m3u8, replay.m3u8, {rendition}/index.m3u8, {rendition}/replay.m3u8 and segments");
    }

    /// <summary>
    /// A session packaged in-process (LL-HLS over CMAF) is served from memory while it is live: blocking playlist
    /// reloads and preload-hinted parts wait on the packager; everything else (replays, TS sessions) from disk.
    /// </summary>
    internal static async Task<Results<PhysicalFileHttpResult, FileContentHttpResult, ProblemHttpResult>> ServeAsync(
        string sessionId, string file, HttpContext http, LiveIngest ingest, LiveMetrics metrics, CancellationToken ct)
    {
        if (SessionIdPattern().IsMatch(sessionId) && FilePattern().IsMatch(file) && ingest.LowLatency(sessionId) is { } packager)
        {
            var live = await Cmaf.LowLatencyHls.ServeAsync(packager, file, http, metrics, ct);
            if (live is not null)
            {
                return live;
            }
        }

        return Serve(sessionId, file, http, ingest);
    }

    internal static Results<PhysicalFileHttpResult, FileContentHttpResult, ProblemHttpResult> Serve(string sessionId, string file, HttpContext http, LiveIngest ingest)
    {
        if (!SessionIdPattern().IsMatch(sessionId) || !FilePattern().IsMatch(file))
        {
            return NotFound();
        }

        var root = Path.GetFullPath(ingest.SessionDirectory(sessionId)) + Path.DirectorySeparatorChar;
        var path = Path.GetFullPath(Path.Combine(root, file));
        if (!path.StartsWith(root, StringComparison.Ordinal) || !File.Exists(path))
        {
            return NotFound();
        }

        var headers = http.Response.Headers;
        headers.AccessControlAllowOrigin = "*";
        if (file.EndsWith(".ts", StringComparison.Ordinal))
        {
            headers.CacheControl = "public, max-age=31536000, immutable";
            return TypedResults.PhysicalFile(path, "video/mp2t", enableRangeProcessing: true);
        }

        if (file.EndsWith(".m4s", StringComparison.Ordinal) || file.EndsWith(".mp4", StringComparison.Ordinal))
        {
            headers.CacheControl = "public, max-age=31536000, immutable";
            return TypedResults.PhysicalFile(path, "video/mp4", enableRangeProcessing: true);
        }

        // Live playlists change with every segment; the replay ones never change once written, but stay short too
        // in case a replay is rebuilt.
        // Playlists are replaced (write, then rename) while players read them: read the small file whole, so that
        // the length sent is the length of the version read.
        headers.CacheControl = "public, max-age=1";
        try
        {
            return TypedResults.Bytes(File.ReadAllBytes(path), "application/vnd.apple.mpegurl");
        }
        catch (FileNotFoundException)
        {
            return NotFound();
        }
    }

    internal static ProblemHttpResult NotFound() => ApiProblem.NotFound("HLS_NOT_FOUND", "HLS file");

    [GeneratedRegex("^[0-9a-f]{32}$")]
    private static partial Regex SessionIdPattern();

    [GeneratedRegex(@"^(master\.m3u8|replay\.m3u8|[0-9a-z]{1,16}/(index\.m3u8|replay\.m3u8|r[0-9]{3}_[0-9]{5,9}\.ts|init[0-9]{3}\.mp4|c[0-9]{6}(\.[0-9]{1,3})?\.m4s))$")]
    private static partial Regex FilePattern();
}
