using Pasar.Server.Tests.Infrastructure;
using Pasar.Testing;

namespace Pasar.Server.Tests.Analytics;

/// <summary>Starts the real ClickHouse fixture; a missing server skips the test here and fails it under CI=true.</summary>
internal static class ClickHouseTesting
{
    public static async Task<ClickHouseServer> StartOrSkipAsync()
    {
        try
        {
            return await ClickHouseServer.StartAsync();
        }
        catch (ServerUnavailableException ex)
        {
            if (ExternalServers.InCi)
            {
                Assert.Fail($"CI=true but clickhouse-server is missing: {ex.Message}");
            }

            Assert.Skip($"ClickHouse unavailable here: {ex.Message}");
            throw;
        }
    }
}
