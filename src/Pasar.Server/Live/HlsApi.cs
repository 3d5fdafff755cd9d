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
    /// A session ingested by another node is forwarded to it (ADR 0025), unless the request was itself forwarded.
    /// </summary>
    internal static async Task<Results<PhysicalFileHttpResult, FileContentHttpResult, ProblemHttpResult, RedirectHttpResult, Cluster.ForwardedHttpResult, Cmaf.StreamedPart>> ServeAsync(
        string sessionId, string file, HttpContext http, LiveIngest ingest, LiveMetrics metrics,
        Cluster.IngestRegistry registry, Cluster.HlsForwarder forwarder, CancellationToken ct)
    {
        var valid = SessionIdPattern().IsMatch(sessionId) && FilePattern().IsMatch(file);
        if (valid && ingest.LowLatency(sessionId) is { } packager)
        {
            var live = await Cmaf.LowLatencyHls.ServeAsync(packager, file, http, metrics, ct);
            if (live is not null)
            {
                return Widen(live);
            }
        }

        // A publisher connected here means the files here are the live ones; otherwise the registry says who has them
        // (this node may hold an old copy from before a restart while the publisher went to another node).
        if (valid && !ingest.IsPublishing(sessionId) && !Cluster.HlsForwarder.IsForwarded(http.Request)
            && await registry.OwnerAsync(sessionId) is { } owner && owner != registry.Self)
        {
            var forwarded = await forwarder.ForwardAsync(owner, sessionId, file, http, ct);
            return forwarded.Result switch
            {
                Cluster.ForwardedHttpResult answer => answer,
                ProblemHttpResult problem => problem,
                _ => throw new InvalidOperationException("Unexpected forwarded result " + forwarded.Result.GetType().Name),
            };
        }

        var local = Serve(sessionId, file, http, ingest);
        if (local.Result is ProblemHttpResult && ingest.Recordings.Enabled && valid)
        {
            return await FromStoreAsync(sessionId, file, http, ingest.Recordings, ct);
        }

        return Widen(local);
    }

    /// <summary>
    /// What is no longer (or never was) on this node's disk, from the object store (ADR 0023): a replay playlist is
    /// read from the store and served; a segment or init segment is a 302 to a presigned URL made for this request,
    /// so a replay watched for hours never meets an expired link. Live playlists are never in the store.
    /// </summary>
    private static async Task<Results<PhysicalFileHttpResult, FileContentHttpResult, ProblemHttpResult, RedirectHttpResult, Cluster.ForwardedHttpResult, Cmaf.StreamedPart>> FromStoreAsync(
        string sessionId, string file, HttpContext http, Storage.RecordingStore store, CancellationToken ct)
    {
        var headers = http.Response.Headers;
        headers.AccessControlAllowOrigin = "*";
        var key = Storage.RecordingStore.SessionKey(sessionId, file);
        if (file.EndsWith(".m3u8", StringComparison.Ordinal))
        {
            if (!file.EndsWith(HlsPackager.ReplayFile, StringComparison.Ordinal))
            {
                return NotFound();
            }

            string? text;
            try
            {
                text = await store.GetTextAsync(key, ct);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                return ApiProblem.Create(StatusCodes.Status503ServiceUnavailable, "STORE_UNAVAILABLE", "The object store is unavailable", "Try again in a moment.");
            }

            if (text is null)
            {
                return NotFound();
            }

            headers.CacheControl = "public, max-age=60";
            return TypedResults.Bytes(System.Text.Encoding.UTF8.GetBytes(text), "application/vnd.apple.mpegurl");
        }

        if (Cmaf.LowLatencyPackager.TryParseMedia(Path.GetFileName(file), out _, out var part) && part is not null)
        {
            return NotFound(); // parts exist only in memory while live
        }

        headers.CacheControl = "no-cache";
        return TypedResults.Redirect(await store.PresignAsync(key, PresignedLifetime));
    }

    /// <summary>How long a presigned segment URL stays valid: far longer than a player takes to fetch it.</summary>
    internal static readonly TimeSpan PresignedLifetime = TimeSpan.FromMinutes(15);

    private static Results<PhysicalFileHttpResult, FileContentHttpResult, ProblemHttpResult, RedirectHttpResult, Cluster.ForwardedHttpResult, Cmaf.StreamedPart> Widen(
        INestedHttpResult result) => result.Result switch
        {
            PhysicalFileHttpResult physical => physical,
            FileContentHttpResult bytes => bytes,
            ProblemHttpResult problem => problem,
            Cmaf.StreamedPart streamed => streamed,
            _ => throw new InvalidOperationException("Unexpected HLS result " + result.Result.GetType().Name),
        };

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
            if (file.EndsWith(HlsPackager.ReplayFile, StringComparison.Ordinal))
            {
                // A replay on local disk is published through the same function as one in the object store.
                var text = Storage.ReplayPlaylist.Compose(sessionId, file, File.ReadAllText(path));
                return TypedResults.Bytes(System.Text.Encoding.UTF8.GetBytes(text), "application/vnd.apple.mpegurl");
            }

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
