using System.Collections.Concurrent;
using System.Net;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Net.Http.Headers;
using Pasar.Server.Platform.Http;

namespace Pasar.Server.Live.Cluster;

/// <summary>
/// Serves <c>/hls/{sessionId}/…</c> of a show ingested by another node by asking that node (ADR 0025). Identical
/// requests share one upstream request (single flight on the path and query), so the viewers of a node blocked on
/// the same next part cost the ingest node one request; immutable parts and segments are kept for a few seconds in
/// a bounded cache. Status, type and caching headers are the ingest node's, so a CDN in front behaves as it would
/// in front of the ingest node (SPEC §11). A forwarded request carries <see cref="ForwardedHeader"/> and is never
/// forwarded again.
/// </summary>
internal sealed class HlsForwarder : IDisposable
{
    public const string ForwardedHeader = "X-Pasar-Forwarded";

    /// <summary>
    /// Upper bound of one upstream request. A blocking reload is answered within about three target durations by
    /// the ingest node; this leaves room for long key-frame intervals and a loaded machine, and is never a hang.
    /// </summary>
    internal static readonly TimeSpan UpstreamTimeout = TimeSpan.FromSeconds(30);

    private static readonly TimeSpan ImmutableLifetime = TimeSpan.FromSeconds(10);
    private const long CacheBytes = 64L * 1024 * 1024;
    private const int MaxBody = 32 * 1024 * 1024;

    /// <summary>The response headers that decide how players and caches treat the answer, copied as they are.</summary>
    private static readonly string[] CopiedHeaders =
    [
        HeaderNames.CacheControl, HeaderNames.Expires, HeaderNames.LastModified, HeaderNames.ETag, HeaderNames.Vary,
        HeaderNames.AccessControlAllowOrigin,
    ];

    private readonly HttpClient _http;
    private readonly LiveMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<HlsForwarder> _logger;
    private readonly ConcurrentDictionary<string, Task<Upstream>> _inFlight = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, (Upstream Response, DateTimeOffset Until)> _cache = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<(string Key, DateTimeOffset Until)> _cacheOrder = new();
    private long _cachedBytes;

    public HlsForwarder(LiveMetrics metrics, TimeProvider time, ILogger<HlsForwarder> logger)
    {
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _http = new HttpClient(new SocketsHttpHandler
        {
            ConnectTimeout = TimeSpan.FromSeconds(3),
            PooledConnectionLifetime = TimeSpan.FromMinutes(5),
            AutomaticDecompression = DecompressionMethods.None,
            UseCookies = false,
            AllowAutoRedirect = false,
        })
        {
            Timeout = UpstreamTimeout,
            MaxResponseContentBufferSize = MaxBody,
        };
    }

    /// <summary>An answer of the ingest node, whole: shared by every viewer that asked the same thing.</summary>
    internal sealed record Upstream(int Status, string? ContentType, KeyValuePair<string, string>[] Headers, byte[] Body, string? FailureCode);

    public static bool IsForwarded(HttpRequest request) => request.Headers.ContainsKey(ForwardedHeader);

    public async Task<Results<ForwardedHttpResult, ProblemHttpResult>> ForwardAsync(string owner, string sessionId, string file, HttpContext http, CancellationToken ct)
    {
        var pathAndQuery = $"/hls/{sessionId}/{file}{http.Request.QueryString}";
        var key = owner + pathAndQuery;
        Upstream answer;
        if (_cache.TryGetValue(key, out var cached) && cached.Until > _time.GetUtcNow())
        {
            _metrics.ForwardedRequests.Add(1, new KeyValuePair<string, object?>("source", "cache"));
            answer = cached.Response;
        }
        else
        {
            var (task, shared) = Join(key, HintedPart(owner, sessionId, file, http.Request.Query));
            _metrics.ForwardedRequests.Add(1, new KeyValuePair<string, object?>("source", shared ? "shared" : "upstream"));
            answer = await task.WaitAsync(ct);
        }

        return answer.FailureCode switch
        {
            null => new ForwardedHttpResult(answer),
            "HLS_INGEST_TIMEOUT" => Problem(StatusCodes.Status503ServiceUnavailable, answer.FailureCode, "The node ingesting this show did not answer in time"),
            _ => Problem(StatusCodes.Status502BadGateway, answer.FailureCode, "The node ingesting this show cannot be reached"),
        };
    }

    private static ProblemHttpResult Problem(int status, string code, string title) =>
        ApiProblem.Create(status, code, title, "Try again in a moment; if the node is gone, its registration expires within seconds.");

    /// <summary>
    /// A blocking reload for part P of segment N is answered once that part exists, and every player then asks for
    /// it: the part's URL, so that its upstream request starts as soon as the playlist is answered, not a round
    /// trip later. Null for any other request.
    /// </summary>
    private static string? HintedPart(string owner, string sessionId, string file, IQueryCollection query)
    {
        var slash = file.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0 || file[(slash + 1)..] != HlsPackager.LiveFile
            || !long.TryParse(query["_HLS_msn"], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var msn)
            || !int.TryParse(query["_HLS_part"], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var part))
        {
            return null;
        }

        return string.Create(System.Globalization.CultureInfo.InvariantCulture, $"{owner}/hls/{sessionId}/{file[..slash]}/c{msn:D6}.{part}.m4s");
    }

    /// <summary>The upstream request for <paramref name="key"/> (the upstream URL): the one in flight, or a new one.</summary>
    private (Task<Upstream> Task, bool Shared) Join(string key, string? prefetch = null)
    {
        while (true)
        {
            if (_inFlight.TryGetValue(key, out var running))
            {
                return (running, true);
            }

            var started = new TaskCompletionSource<Upstream>(TaskCreationOptions.RunContinuationsAsynchronously);
            if (_inFlight.TryAdd(key, started.Task))
            {
                _ = RunAsync(key, started, prefetch);
                return (started.Task, false);
            }
        }
    }

    private async Task RunAsync(string key, TaskCompletionSource<Upstream> result, string? prefetch)
    {
        try
        {
            // Not the first viewer's token: its leaving must not fail the request the others wait on.
            var answer = await FetchAsync(key); // the key is the upstream URL
            if (answer.FailureCode is null && answer.Status == StatusCodes.Status200OK && IsImmutable(answer))
            {
                Remember(key, answer);
            }

            if (prefetch is not null && answer.Status == StatusCodes.Status200OK && !_cache.ContainsKey(prefetch))
            {
                _ = Join(prefetch);
            }

            result.TrySetResult(answer);
        }
        catch (Exception ex)
        {
            _logger.LogError(ex, "HLS forwarding to {Url} failed", key);
            result.TrySetResult(new Upstream(0, null, [], [], "HLS_INGEST_UNREACHABLE"));
        }
        finally
        {
            _inFlight.TryRemove(new KeyValuePair<string, Task<Upstream>>(key, result.Task));
        }
    }

    private async Task<Upstream> FetchAsync(string url)
    {
        var what = new KeyValuePair<string, object?>("kind", url.Contains(".m3u8", StringComparison.Ordinal) ? "playlist" : "media");
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.TryAddWithoutValidation(ForwardedHeader, "1");
        try
        {
            using var response = await _http.SendAsync(request, HttpCompletionOption.ResponseContentRead);
            var body = await response.Content.ReadAsByteArrayAsync();
            var headers = new List<KeyValuePair<string, string>>();
            foreach (var name in CopiedHeaders)
            {
                if (response.Headers.TryGetValues(name, out var values) || response.Content.Headers.TryGetValues(name, out values))
                {
                    headers.Add(new(name, string.Join(", ", values)));
                }
            }

            _metrics.ForwardUpstreamRequests.Add(1, new KeyValuePair<string, object?>("outcome", ((int)response.StatusCode).ToString(System.Globalization.CultureInfo.InvariantCulture)), what);
            return new Upstream((int)response.StatusCode, response.Content.Headers.ContentType?.ToString(), [.. headers], body, null);
        }
        catch (TaskCanceledException)
        {
            _metrics.ForwardUpstreamRequests.Add(1, new KeyValuePair<string, object?>("outcome", "timeout"), what);
            return new Upstream(0, null, [], [], "HLS_INGEST_TIMEOUT");
        }
        catch (HttpRequestException ex)
        {
            _metrics.ForwardUpstreamRequests.Add(1, new KeyValuePair<string, object?>("outcome", "unreachable"), what);
            _logger.LogWarning("HLS forwarding to {Url} failed: {Error}", url, ex.Message);
            return new Upstream(0, null, [], [], "HLS_INGEST_UNREACHABLE");
        }
    }

    private static bool IsImmutable(Upstream answer) =>
        answer.Headers.Any(h => h.Key == HeaderNames.CacheControl && h.Value.Contains("immutable", StringComparison.Ordinal));

    /// <summary>Keeps an immutable answer for a few seconds, within a byte budget: expired and then the oldest go first.</summary>
    private void Remember(string key, Upstream answer)
    {
        var now = _time.GetUtcNow();
        while (_cacheOrder.TryPeek(out var oldest) && (Interlocked.Read(ref _cachedBytes) + answer.Body.Length > CacheBytes || oldest.Until <= now))
        {
            if (_cacheOrder.TryDequeue(out oldest) && _cache.TryGetValue(oldest.Key, out var entry) && entry.Until == oldest.Until
                && _cache.TryRemove(new KeyValuePair<string, (Upstream, DateTimeOffset)>(oldest.Key, entry)))
            {
                Interlocked.Add(ref _cachedBytes, -entry.Response.Body.Length);
            }
        }

        var until = now + ImmutableLifetime;
        if (answer.Body.Length > CacheBytes / 4 || !_cache.TryAdd(key, (answer, until)))
        {
            return;
        }

        _cacheOrder.Enqueue((key, until));
        Interlocked.Add(ref _cachedBytes, answer.Body.Length);
    }

    public void Dispose() => _http.Dispose();
}

/// <summary>The ingest node's answer, written as it came: status, type, caching headers and body (ranges served here).</summary>
internal sealed class ForwardedHttpResult(HlsForwarder.Upstream answer) : IResult
{
    internal HlsForwarder.Upstream Answer => answer;

    public Task ExecuteAsync(HttpContext httpContext)
    {
        var headers = httpContext.Response.Headers;
        foreach (var (name, value) in answer.Headers)
        {
            headers[name] = value;
        }

        if (answer.Status == StatusCodes.Status200OK)
        {
            return TypedResults.Bytes(answer.Body, answer.ContentType, enableRangeProcessing: true).ExecuteAsync(httpContext);
        }

        httpContext.Response.StatusCode = answer.Status;
        if (answer.ContentType is { } type)
        {
            httpContext.Response.ContentType = type;
        }

        httpContext.Response.ContentLength = answer.Body.Length;
        return httpContext.Response.Body.WriteAsync(answer.Body).AsTask();
    }
}
