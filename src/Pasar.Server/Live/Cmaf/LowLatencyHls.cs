using System.Globalization;
using System.Text;
using Microsoft.AspNetCore.Http.HttpResults;
using Pasar.Server.Platform.Http;

namespace Pasar.Server.Live.Cmaf;

/// <summary>
/// HTTP for a live in-process session (SPEC §11): the master and media playlists from memory, blocking reloads
/// (<c>_HLS_msn</c>, <c>_HLS_part</c>), delta updates (<c>_HLS_skip=YES</c>), and the preload-hinted part streamed
/// chunk by chunk as it is written when a player asks for it early. Parts, segments and init segments are immutable;
/// playlists short-cached.
/// </summary>
internal static class LowLatencyHls
{
    private const string Playlist = "application/vnd.apple.mpegurl";
    private const string Immutable = "public, max-age=31536000, immutable";

    /// <returns>The response, or null to fall back to the files on disk (replays, segments gone from memory).</returns>
    public static async Task<Results<PhysicalFileHttpResult, FileContentHttpResult, ProblemHttpResult, StreamedPart>?> ServeAsync(
        CmafSession session, string file, HttpContext http, LiveMetrics metrics, CancellationToken ct)
    {
        var headers = http.Response.Headers;
        headers.AccessControlAllowOrigin = "*";
        if (file == HlsPackager.MasterFile)
        {
            if (session.Master() is not { } master)
            {
                return null;
            }

            headers.CacheControl = "public, max-age=1";
            return TypedResults.Bytes(Encoding.UTF8.GetBytes(master), Playlist);
        }

        var slash = file.IndexOf('/', StringComparison.Ordinal);
        if (slash <= 0 || session.Find(file[..slash]) is not { } packager)
        {
            return null;
        }

        var name = file[(slash + 1)..];
        if (name == HlsPackager.LiveFile)
        {
            return await PlaylistAsync(session, packager, http, metrics, ct);
        }

        if (packager.Media(name) is not { } bytes)
        {
            // The preload-hinted part: streamed from its first chunk. A segment being built: held until it is complete.
            if (!LowLatencyPackager.TryParseMedia(name, out var msn, out var part))
            {
                return null;
            }

            var waited = await packager.WaitForAsync(msn, part, ct, started: part is not null);
            metrics.BlockedRequestsTotal.Add(1, new KeyValuePair<string, object?>("outcome", waited.ToString()));
            if (waited != LowLatencyPackager.WaitResult.Ready)
            {
                return null;
            }

            if (part is { } p)
            {
                if (!packager.ReadPart(msn, p, 0).Found)
                {
                    return null; // the segment closed without it
                }

                headers.CacheControl = Immutable;
                return new StreamedPart(packager, msn, p);
            }

            if (packager.Media(name) is not { } later)
            {
                return null;
            }

            bytes = later;
        }

        headers.CacheControl = Immutable;
        return TypedResults.Bytes(bytes, "video/mp4");
    }

    private static async Task<Results<PhysicalFileHttpResult, FileContentHttpResult, ProblemHttpResult, StreamedPart>?> PlaylistAsync(
        CmafSession session, LowLatencyPackager packager, HttpContext http, LiveMetrics metrics, CancellationToken ct)
    {
        var query = http.Request.Query;
        var hasMsn = query.TryGetValue("_HLS_msn", out var msnText);
        var hasPart = query.TryGetValue("_HLS_part", out var partText);
        var skip = query.TryGetValue("_HLS_skip", out var skipText) && (skipText == "YES" || skipText == "v2");
        if (hasPart && !hasMsn)
        {
            return BadRequest("_HLS_part needs _HLS_msn.");
        }

        if (hasMsn)
        {
            if (!long.TryParse(msnText, NumberStyles.None, CultureInfo.InvariantCulture, out var msn)
                || (hasPart && !int.TryParse(partText, NumberStyles.None, CultureInfo.InvariantCulture, out _)))
            {
                return BadRequest("_HLS_msn and _HLS_part are non-negative integers.");
            }

            int? part = hasPart ? int.Parse(partText!, CultureInfo.InvariantCulture) : null;
            var waited = await packager.WaitForAsync(msn, part, ct);
            metrics.BlockedRequestsTotal.Add(1, new KeyValuePair<string, object?>("outcome", waited.ToString()));
            switch (waited)
            {
                case LowLatencyPackager.WaitResult.TooFarAhead:
                    return BadRequest("_HLS_msn is too far ahead of the live edge.");
                case LowLatencyPackager.WaitResult.TimedOut:
                    return ApiProblem.Create(StatusCodes.Status503ServiceUnavailable, "HLS_PART_TIMEOUT", "The requested part did not appear in time");
            }
        }

        if (session.MediaPlaylist(packager, skip) is not { } text)
        {
            return null;
        }

        // A blocking response answers one (msn, part) for good: a CDN may keep it and collapse identical requests.
        http.Response.Headers.CacheControl = hasMsn ? "public, max-age=6" : "public, max-age=1";
        return TypedResults.Bytes(Encoding.UTF8.GetBytes(text), Playlist);
    }

    private static ProblemHttpResult BadRequest(string detail) =>
        ApiProblem.Create(StatusCodes.Status400BadRequest, "HLS_BAD_REQUEST", "Bad LL-HLS request", detail);
}

/// <summary>
/// A part sent as it is written: each chunk (<c>moof</c> + <c>mdat</c>) flushed as soon as the packager has it, the
/// response ending with the part's last one (chunked transfer, no length known in advance). A part whose end does not
/// come within the wait limit (the publisher stalled) is cut off: the player asks again, and gets it whole.
/// </summary>
internal sealed class StreamedPart(LowLatencyPackager packager, long msn, int part) : IResult
{
    public async Task ExecuteAsync(HttpContext httpContext)
    {
        var response = httpContext.Response;
        var ct = httpContext.RequestAborted;
        response.ContentType = "video/mp4";
        var deadline = DateTimeOffset.UtcNow + packager.WaitLimit;
        try
        {
            await StreamAsync(httpContext, deadline, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // the player went away mid-part
        }
    }

    private async Task StreamAsync(HttpContext httpContext, DateTimeOffset deadline, CancellationToken ct)
    {
        var response = httpContext.Response;
        long sent = 0;
        while (true)
        {
            var read = packager.ReadPart(msn, part, sent);
            if (!read.Found)
            {
                httpContext.Abort(); // gone from the memory window mid-stream: a truncated part must not look whole
                return;
            }

            foreach (var chunk in read.Data)
            {
                await response.BodyWriter.WriteAsync(chunk, ct);
                sent += chunk.Length;
            }

            if (read.Complete)
            {
                return;
            }

            var left = deadline - DateTimeOffset.UtcNow;
            try
            {
                if (left <= TimeSpan.Zero)
                {
                    throw new TimeoutException();
                }

                await read.Changed.WaitAsync(left, ct);
            }
            catch (TimeoutException)
            {
                httpContext.Abort();
                return;
            }
        }
    }
}
