using System.Net;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using Microsoft.Extensions.Options;

namespace Pasar.Server.Live.Storage;

/// <summary>
/// Recordings in the S3-compatible object store (ADR 0023). Key layout, per session and rendition:
/// <c>live/{sessionId}/{rendition}/{file}</c> for segments, init segments and the rendition's VOD playlist
/// (<c>replay.m3u8</c>), and <c>live/{sessionId}/replay.m3u8</c> for the replay's master playlist. Playlists refer
/// to their segments by relative names, so the same objects play through presigned URLs or a CDN in front of the bucket.
/// </summary>
internal sealed class RecordingStore : IDisposable
{
    private readonly ObjectStorageOptions _options;
    private readonly AmazonS3Client? _client;
    private readonly ILogger<RecordingStore> _logger;
    private volatile bool _bucketReady;
    private volatile string? _problem;

    public RecordingStore(IOptions<ObjectStorageOptions> options, ILogger<RecordingStore> logger)
    {
        _options = options.Value;
        _logger = logger;
        if (_options.Enabled)
        {
            _client = new AmazonS3Client(new BasicAWSCredentials(_options.AccessKey, _options.SecretKey), new AmazonS3Config
            {
                ServiceURL = _options.ServiceUrl,
                ForcePathStyle = _options.ForcePathStyle,
                AuthenticationRegion = _options.Region,
                // Pasar retries with its own backoff (RecordingUploader); one quick SDK retry covers a dropped connection.
                MaxErrorRetry = 1,
                Timeout = TimeSpan.FromSeconds(30),
            });
        }
    }

    public bool Enabled => _client is not null;

    public string Bucket => _options.Bucket;

    /// <summary>What went wrong last, naming the setting to look at; null while the store works.</summary>
    public string? Problem => _problem;

    /// <summary>True when the last problem is a refused credential (a configuration error, not an outage).</summary>
    public bool CredentialsRefused { get; private set; }

    public static string SegmentKey(string sessionId, string rendition, string file) => $"live/{sessionId}/{rendition}/{file}";

    public static string SessionKey(string sessionId, string file) => $"live/{sessionId}/{file}";

    /// <summary>The public (CDN) URL of a key, when <c>PublicBaseUrl</c> is set.</summary>
    public string? PublicUrl(string key) =>
        string.IsNullOrWhiteSpace(_options.PublicBaseUrl) ? null : _options.PublicBaseUrl.TrimEnd('/') + "/" + key;

    /// <summary>Checks the credentials and the bucket, creating it when missing. Throws what the store answered.</summary>
    public async Task EnsureBucketAsync(CancellationToken ct)
    {
        if (_bucketReady)
        {
            return;
        }

        var client = Client;
        await Observe(async () =>
        {
            try
            {
                await client.ListObjectsV2Async(new ListObjectsV2Request { BucketName = _options.Bucket, MaxKeys = 1 }, ct);
            }
            catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound || ex.ErrorCode == "NoSuchBucket")
            {
                await client.PutBucketAsync(new PutBucketRequest { BucketName = _options.Bucket }, ct);
                _logger.LogInformation("Object store: created bucket {Bucket}", _options.Bucket);
            }
        });
        _bucketReady = true;
    }

    public async Task PutFileAsync(string key, string path, CancellationToken ct)
    {
        await EnsureBucketAsync(ct);
        await Observe(async () =>
        {
            await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete, 81920, useAsync: true);
            await Client.PutObjectAsync(new PutObjectRequest
            {
                BucketName = _options.Bucket,
                Key = key,
                InputStream = file,
                AutoCloseStream = false,
                ContentType = ContentType(key),
                // Swift's S3 layer (and some other stores) refuse aws-chunked bodies; a plain signed body works everywhere.
                UseChunkEncoding = false,
            }, ct);
        });
    }

    public async Task PutTextAsync(string key, string text, CancellationToken ct)
    {
        await EnsureBucketAsync(ct);
        await Observe(() => Client.PutObjectAsync(new PutObjectRequest
        {
            BucketName = _options.Bucket,
            Key = key,
            ContentBody = text,
            ContentType = ContentType(key),
            UseChunkEncoding = false,
        }, ct));
    }

    /// <summary>
    /// Uploads a replay's playlists from the session's folder: every rendition's VOD playlist, then the master (last:
    /// once it exists, every playlist and segment it leads to does). False when the folder holds no replay.
    /// </summary>
    public async Task<bool> PutReplayPlaylistsAsync(string sessionId, string directory, CancellationToken ct)
    {
        var master = Path.Combine(directory, HlsPackager.ReplayFile);
        if (!File.Exists(master))
        {
            return false;
        }

        foreach (var rendition in Directory.EnumerateDirectories(directory).Select(Path.GetFileName).Order(StringComparer.Ordinal))
        {
            var playlist = Path.Combine(directory, rendition!, HlsPackager.ReplayFile);
            if (File.Exists(playlist))
            {
                var text = ReplayPlaylist.Compose(sessionId, rendition + "/" + HlsPackager.ReplayFile, await File.ReadAllTextAsync(playlist, ct));
                await PutTextAsync(SegmentKey(sessionId, rendition!, HlsPackager.ReplayFile), text, ct);
            }
        }

        await PutTextAsync(SessionKey(sessionId, HlsPackager.ReplayFile),
            ReplayPlaylist.Compose(sessionId, HlsPackager.ReplayFile, await File.ReadAllTextAsync(master, ct)), ct);
        return true;
    }

    /// <summary>The object's text, or null when it does not exist.</summary>
    public async Task<string?> GetTextAsync(string key, CancellationToken ct)
    {
        string? text = null;
        await Observe(async () =>
        {
            try
            {
                using var response = await Client.GetObjectAsync(_options.Bucket, key, ct);
                using var reader = new StreamReader(response.ResponseStream);
                text = await reader.ReadToEndAsync(ct);
            }
            catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
            {
                text = null;
            }
        });
        return text;
    }

    public async Task<bool> ExistsAsync(string key, CancellationToken ct)
    {
        try
        {
            await Client.GetObjectMetadataAsync(_options.Bucket, key, ct);
            return true;
        }
        catch (AmazonS3Exception ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            return false;
        }
    }

    /// <summary>A presigned GET, valid for <paramref name="lifetime"/>: handed out per request, so it is always fresh.</summary>
    public Task<string> PresignAsync(string key, TimeSpan lifetime) =>
        Client.GetPreSignedURLAsync(new GetPreSignedUrlRequest
        {
            BucketName = _options.Bucket,
            Key = key,
            Verb = HttpVerb.GET,
            Expires = DateTime.UtcNow + lifetime,
            Protocol = _options.ServiceUrl.StartsWith("https:", StringComparison.OrdinalIgnoreCase) ? Protocol.HTTPS : Protocol.HTTP,
        });

    private AmazonS3Client Client => _client ?? throw new InvalidOperationException("Pasar:Storage:S3:ServiceUrl is empty: recordings stay on local disk.");

    /// <summary>Runs a store call and remembers the outcome for <c>/readyz</c>, naming the setting a refusal points at.</summary>
    private async Task Observe(Func<Task> call)
    {
        try
        {
            await call();
            _problem = null;
            CredentialsRefused = false;
        }
        catch (AmazonS3Exception ex) when (Describe(ex) is { } problem)
        {
            if (_problem != problem)
            {
                _logger.LogError("Object store: {Problem} ({Status} {Code})", problem, (int)ex.StatusCode, ex.ErrorCode);
            }

            CredentialsRefused = true;
            _problem = problem;
            throw;
        }
        catch (Exception ex) when (ex is AmazonServiceException or HttpRequestException or IOException or TaskCanceledException or AmazonClientException)
        {
            var problem = "the object store at Pasar:Storage:S3:ServiceUrl is unreachable; uploads wait and are retried";
            if (_problem != problem)
            {
                _logger.LogWarning("Object store: unreachable ({Error}); uploads wait and are retried", ex.Message);
            }

            CredentialsRefused = false;
            _problem = problem;
            throw;
        }
    }

    /// <summary>A configuration error the store answered, naming the setting; null for other errors.</summary>
    internal static string? Describe(AmazonS3Exception ex) => ex.ErrorCode switch
    {
        "SignatureDoesNotMatch" => "Pasar:Storage:S3:SecretKey is refused by the object store (SignatureDoesNotMatch)",
        "InvalidAccessKeyId" => "Pasar:Storage:S3:AccessKey is unknown to the object store (InvalidAccessKeyId)",
        "AccessDenied" => "Pasar:Storage:S3:AccessKey may not use Pasar:Storage:S3:Bucket (AccessDenied)",
        "AuthorizationHeaderMalformed" => "Pasar:Storage:S3:Region does not match the object store (AuthorizationHeaderMalformed)",
        "InvalidBucketName" => "Pasar:Storage:S3:Bucket is not a valid bucket name (InvalidBucketName)",
        _ => null,
    };

    internal static string ContentType(string key) =>
        key.EndsWith(".m3u8", StringComparison.Ordinal) ? "application/vnd.apple.mpegurl"
        : key.EndsWith(".ts", StringComparison.Ordinal) ? "video/mp2t"
        : "video/mp4";

    public void Dispose() => _client?.Dispose();
}
