using Microsoft.Extensions.Options;

namespace Pasar.Server.Platform;

/// <summary>
/// "Today" for daily rules (check-in, plays per day, budgets) is the date in the configured region time
/// zone (<c>Pasar:Region:TimeZone</c>), not UTC: a Singapore user's day turns at Singapore midnight.
/// </summary>
internal sealed class RegionClock(TimeProvider time, IOptions<PasarOptions> options)
{
    private readonly TimeZoneInfo _zone = PasarOptionsValidator.TryFindTimeZone(options.Value.Region.TimeZone, out var zone) ? zone : TimeZoneInfo.Utc;

    public TimeProvider Time => time;

    public DateOnly Today() => DateOnly.FromDateTime(TimeZoneInfo.ConvertTime(time.GetUtcNow(), _zone).DateTime);

    /// <summary>The instant the region's next day starts.</summary>
    public DateTimeOffset NextMidnight()
    {
        var tomorrow = Today().AddDays(1).ToDateTime(TimeOnly.MinValue, DateTimeKind.Unspecified);
        return new DateTimeOffset(tomorrow, _zone.GetUtcOffset(tomorrow)).ToUniversalTime();
    }

    /// <summary>Whole seconds until the region's next midnight, at least 1 (for Retry-After).</summary>
    public int SecondsUntilNextMidnight() => Math.Max(1, (int)Math.Ceiling((NextMidnight() - time.GetUtcNow()).TotalSeconds));

    public static string Key(DateOnly day) => day.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture);
}
