using Microsoft.Extensions.Options;
using Npgsql;
using Pasar.Server.Demo;
using Pasar.Server.Platform.Events;
using Pasar.Server.Platform.Redis;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Platform;

/// <summary>
/// Runs before the server takes requests: reaches both stores (failing fast with the setting to fix),
/// applies migrations, and creates demo data in the embedded mode.
/// </summary>
internal sealed class StartupTasks(IServiceProvider services, IOptions<PasarOptions> options, ILogger<StartupTasks> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var db = services.GetRequiredService<Database>();
        try
        {
            Migrator.Run(db, logger);
        }
        catch (Exception ex) when (db.Provider == DatabaseProvider.Postgres && ex.GetBaseException() is NpgsqlException or System.Net.Sockets.SocketException or TimeoutException)
        {
            throw new InvalidOperationException($"Pasar:Database:ConnectionString: cannot reach PostgreSQL: {ex.GetBaseException().Message}", ex);
        }

        var store = services.GetRequiredService<HotStore>();
        logger.LogInformation("Pasar storage: {Provider} and {HotStore}; data directory {DataDir}", db.Provider, store.Description, options.Value.FullDataDir);
        await DemoData.SeedAsync(db, services.GetRequiredService<Outbox>(), services.GetRequiredService<TimeProvider>(), options, logger, cancellationToken);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
