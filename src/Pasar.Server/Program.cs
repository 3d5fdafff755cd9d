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

var app = PasarHost.Build(args);
await app.RunAsync();
return 0;

/// <summary>The entry point, visible to tests that start the server as a process.</summary>
public partial class Program;
