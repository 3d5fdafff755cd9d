using Pasar.Server;

if (args is ["analytics", "backfill", .. var rest])
{
    return await Pasar.Server.LiveRoom.AnalyticsBackfill.RunCommandAsync(rest, TimeSpan.FromMinutes(5));
}

if (args is ["analytics", ..])
{
    Console.Error.WriteLine("Unknown command. Commands: analytics backfill (copy the SQL analytics of past shows into ClickHouse).");
    return 64;
}

if (args is ["storage", "upload-replays", .. var storageArgs])
{
    return await Pasar.Server.Live.Storage.ReplayMover.RunCommandAsync(storageArgs);
}

if (args is ["storage", ..])
{
    Console.Error.WriteLine("Unknown command. Commands: storage upload-replays (move replays recorded on local disk into the object store).");
    return 64;
}

var app = PasarHost.Build(args);
await app.RunAsync();
return 0;

/// <summary>The entry point, visible to tests that start the server as a process.</summary>
public partial class Program;
