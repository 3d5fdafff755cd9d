namespace Pasar.Server.Tests.Infrastructure;

/// <summary>The two backend pairs every storage-touching test runs against.</summary>
public enum Backend
{
    /// <summary>SQLite file + Garnet hosted in-process: what <c>dotnet run</c> gives a newcomer.</summary>
    Embedded,

    /// <summary>PostgreSQL + Redis: the production / scale-out configuration.</summary>
    Scaled,
}

public static class Backends
{
    public static TheoryData<Backend> All => new(Backend.Embedded, Backend.Scaled);
}
