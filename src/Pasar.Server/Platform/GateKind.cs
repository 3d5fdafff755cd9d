namespace Pasar.Server.Platform;

/// <summary>What stands in front of a burst's SQL guards (flash sales, vouchers, auctions).</summary>
internal enum GateKind
{
    /// <summary>The Lua gate in Redis/Garnet answers the burst; only what it lets through reaches SQL.</summary>
    Redis,

    /// <summary>Every attempt is a guarded SQL transaction: a comparison floor for benchmarks, not for production.</summary>
    SqlOnly,
}
