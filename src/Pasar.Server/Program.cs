using Pasar.Server;

var app = PasarHost.Build(args);
app.Run();

/// <summary>The entry point, visible to tests that start the server as a process.</summary>
public partial class Program;
