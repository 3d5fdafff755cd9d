using Pasar.Server;

if (args is ["analytics", "backfill", .. var rest])
{
    return await Pasar.Server.LiveRoom.AnalyticsBackfill.RunCommandAsync(rest, TimeSpan.FromMinutes(5));
}

var app = PasarHost.Build(args);
await app.RunAsync();
return 0;

/// <summary>The entry point, visible to tests that start the server as a process.</summary>
public partial class Program;
