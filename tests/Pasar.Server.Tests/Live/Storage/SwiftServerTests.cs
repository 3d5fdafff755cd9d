using System.Net;
using Amazon.S3;
using Amazon.S3.Model;

namespace Pasar.Server.Tests.Live.Storage;

/// <summary>The Swift fixture is a real S3 endpoint: bodies round-trip byte for byte and signatures are checked.</summary>
public sealed class SwiftServerTests
{
    [Fact]
    public async Task Put_and_get_round_trip_and_a_wrong_secret_is_refused()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var swift = await SwiftTesting.StartOrSkipAsync();
        using var s3 = SwiftTesting.Client(swift);
        await s3.PutBucketAsync(new PutBucketRequest { BucketName = "roundtrip" }, ct);
        var body = new byte[300_001];
        Random.Shared.NextBytes(body);
        await s3.PutObjectAsync(new PutObjectRequest
        {
            BucketName = "roundtrip",
            Key = "live/s1/source/c000000.m4s",
            InputStream = new MemoryStream(body),
            UseChunkEncoding = false,
            ContentType = "video/mp4",
        }, ct);

        using (var got = await s3.GetObjectAsync("roundtrip", "live/s1/source/c000000.m4s", ct))
        {
            using var copy = new MemoryStream();
            await got.ResponseStream.CopyToAsync(copy, ct);
            Assert.Equal(body, copy.ToArray());
        }

        // A presigned GET works from a plain HTTP client, and a tampered signature does not.
        var url = await s3.GetPreSignedURLAsync(new GetPreSignedUrlRequest
        {
            BucketName = "roundtrip",
            Key = "live/s1/source/c000000.m4s",
            Expires = DateTime.UtcNow.AddMinutes(5),
            Protocol = Protocol.HTTP,
        });
        using var http = new HttpClient();
        Assert.Equal(body, await http.GetByteArrayAsync(url, ct));
        var tampered = url.Replace("Signature=", "Signature=0", StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Forbidden, (await http.GetAsync(tampered, ct)).StatusCode);

        using var wrong = SwiftTesting.Client(swift, secret: "not-the-secret");
        var refused = await Assert.ThrowsAsync<AmazonS3Exception>(() => wrong.GetObjectAsync("roundtrip", "live/s1/source/c000000.m4s", ct));
        Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
        Assert.Equal("SignatureDoesNotMatch", refused.ErrorCode);
    }
}
