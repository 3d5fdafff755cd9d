using Microsoft.Extensions.Time.Testing;

namespace Pasar.Server.Tests.Infrastructure;

/// <summary>Controllable clocks placed in the default region (Asia/Singapore, UTC+8, no DST).</summary>
public static class RegionTime
{
    public static readonly TimeSpan Offset = TimeSpan.FromHours(8);

    /// <summary>
    /// A fake clock at <paramref name="hour"/>:00 Singapore time on the most recent day that is not in the
    /// future, so tokens issued on it are valid against the real clock that checks them.
    /// </summary>
    public static FakeTimeProvider At(int hour, int minute = 0)
    {
        var local = DateTimeOffset.UtcNow.ToOffset(Offset);
        var candidate = new DateTimeOffset(local.Year, local.Month, local.Day, hour, minute, 0, Offset);
        if (candidate > DateTimeOffset.UtcNow)
        {
            candidate = candidate.AddDays(-1);
        }

        return new FakeTimeProvider(candidate.ToUniversalTime());
    }
}
