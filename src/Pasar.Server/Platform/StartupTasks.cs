using Microsoft.Extensions.Options;
using Npgsql;
using Pasar.Server.Platform.Redis;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Platform;

/// <summary>
/// Work a module needs done once the stores are reachable and migrated, before the server takes requests
/// (the Demo module's seed data). Platform runs them in registration order without knowing the modules.
/// </summary>
internal interface IStartupTask
{
    Task RunAsync(CancellationToken ct);
}

/// <summary>
/// Runs before the server takes requests: reaches both stores (failing fast with the setting to fix),
/// applies migrations, then the modules' <see cref="IStartupTask"/>s.
/// </summary>
internal sealed class StartupTasks(IServiceProvider services, IOptions<PasarOptions> options, IEnumerable<IStartupTask> tasks, ILogger<StartupTasks> logger) : IHostedService
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
        foreach (var task in tasks)
        {
            await task.RunAsync(cancellationToken);
        }
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
