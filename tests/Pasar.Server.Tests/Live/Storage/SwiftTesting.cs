using Amazon.S3;
using Pasar.Server.Tests.Infrastructure;
using Pasar.Testing;

namespace Pasar.Server.Tests.Live.Storage;

/// <summary>Starts the real Swift fixture; a missing server skips the test here and fails it under CI=true.</summary>
internal static class SwiftTesting
{
    public static async Task<SwiftServer> StartOrSkipAsync()
    {
        try
        {
            return await SwiftServer.StartAsync();
        }
        catch (ServerUnavailableException ex)
        {
            if (ExternalServers.InCi)
            {
                Assert.Fail($"CI=true but OpenStack Swift is missing: {ex.Message}");
            }

            Assert.Skip($"Swift unavailable here: {ex.Message}");
            throw;
        }
    }

    /// <summary>An S3 client for the fixture, set up as Swift's S3 layer needs (path style, no aws-chunked bodies on PUT).</summary>
    public static AmazonS3Client Client(SwiftServer swift, string secret = SwiftServer.SecretKey) =>
        new(SwiftServer.AccessKey, secret, new AmazonS3Config
        {
            ServiceURL = swift.ServiceUrl,
            ForcePathStyle = true,
            AuthenticationRegion = SwiftServer.Region,
            MaxErrorRetry = 0,
        });

    /// <summary>The test-side settings of a Pasar node that stores recordings in the fixture.</summary>
    public static void Configure(Dictionary<string, string?> settings, SwiftServer swift, string bucket, string secret = SwiftServer.SecretKey)
    {
        settings["Pasar:Storage:S3:ServiceUrl"] = swift.ServiceUrl;
        settings["Pasar:Storage:S3:Bucket"] = bucket;
        settings["Pasar:Storage:S3:AccessKey"] = SwiftServer.AccessKey;
        settings["Pasar:Storage:S3:SecretKey"] = secret;
    }
}
