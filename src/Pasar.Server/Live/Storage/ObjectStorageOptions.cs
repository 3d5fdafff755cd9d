namespace Pasar.Server.Live.Storage;

/// <summary>
/// The <c>Pasar:Storage:S3</c> section (SPEC §12): an S3-compatible object store for recordings. An empty
/// <see cref="ServiceUrl"/> keeps recordings as local files in the data directory (the embedded default).
/// </summary>
internal sealed class ObjectStorageOptions
{
    public const string Section = "Pasar:Storage:S3";

    /// <summary>S3-compatible endpoint, e.g. <c>https://s3.eu-central-1.amazonaws.com</c>; empty means local files.</summary>
    public string ServiceUrl { get; set; } = "";

    /// <summary>The bucket; created at start if missing.</summary>
    public string Bucket { get; set; } = "pasar";

    public string AccessKey { get; set; } = "";

    public string SecretKey { get; set; } = "";

    /// <summary>Signing region.</summary>
    public string Region { get; set; } = "us-east-1";

    /// <summary>Path-style addressing (<c>endpoint/bucket/key</c>), which most S3-compatible stores need.</summary>
    public bool ForcePathStyle { get; set; } = true;

    /// <summary>CDN or public base URL in front of the bucket's root; empty means Pasar hands out presigned URLs.</summary>
    public string PublicBaseUrl { get; set; } = "";

    public bool Enabled => !string.IsNullOrWhiteSpace(ServiceUrl);
}
