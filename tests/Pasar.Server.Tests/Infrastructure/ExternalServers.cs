using Pasar.Testing;

[assembly: AssemblyFixture(typeof(Pasar.Server.Tests.Infrastructure.ExternalServers))]

namespace Pasar.Server.Tests.Infrastructure;

/// <summary>
/// A real PostgreSQL and a real Redis for the scaled-out backend pair, started once for the test run on
/// loopback ports in temp folders. When a server is not installed its tests are skipped, except under
/// CI=true, where a missing server fails the run.
/// </summary>
public sealed class ExternalServers : IAsyncLifetime
{
    public static bool InCi => string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase);

    public static ExternalServers Current { get; private set; } = null!;

    public PostgresServer? Postgres { get; private set; }
    public RedisServer? Redis { get; private set; }
    public string? PostgresMissing { get; private set; }
    public string? RedisMissing { get; private set; }

    public async ValueTask InitializeAsync()
    {
        Current = this;
        var pg = Task.Run(PostgresServer.StartAsync);
        var redis = Task.Run(RedisServer.StartAsync);
        try
        {
            Postgres = await pg;
        }
        catch (ServerUnavailableException ex)
        {
            PostgresMissing = ex.Message;
        }

        try
        {
            Redis = await redis;
        }
        catch (ServerUnavailableException ex)
        {
            RedisMissing = ex.Message;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Postgres is not null)
        {
            await Postgres.DisposeAsync();
        }

        if (Redis is not null)
        {
            await Redis.DisposeAsync();
        }
    }

    /// <summary>Skips the calling test when the scaled backend is not available (fails it under CI).</summary>
    public void RequireScaled()
    {
        var missing = PostgresMissing ?? RedisMissing;
        if (missing is null)
        {
            return;
        }

        if (InCi)
        {
            Assert.Fail($"CI=true but a server for the PostgreSQL + Redis backend is missing: {missing}");
        }

        Assert.Skip($"PostgreSQL + Redis backend unavailable here: {missing}");
    }
}
