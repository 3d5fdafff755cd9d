using System.Globalization;
using System.Net;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;
using Pasar.Server.Platform.Auth;

namespace Pasar.Server.Platform.Http;

/// <summary>The <c>Pasar:RateLimits</c> section (SPEC §17). Rates are token buckets with bursts of twice the rate.</summary>
internal sealed class RateLimitOptions
{
    public const string Section = "Pasar:RateLimits";

    /// <summary>All rate limits. Tests and benchmarks that load one server from one address turn them off.</summary>
    public bool Enabled { get; set; } = true;

    /// <summary>
    /// API requests per second from one client address while signed out. A page of the web app makes about ten
    /// calls; 20/s with a burst of 40 lets a handful of people behind one NAT browse, and stops a script.
    /// </summary>
    public int AnonymousPerSecond { get; set; } = 20;

    /// <summary>API requests per second of one signed-in user, from whatever addresses: a person never needs more.</summary>
    public int UserPerSecond { get; set; } = 40;

    /// <summary>Live-room hub calls per second of one connection (chat, watch, pins), enforced by the hub.</summary>
    public int HubCallsPerSecond { get; set; } = 10;

    /// <summary>The bucket size: bursts of twice the rate, as SPEC §17 says.</summary>
    public static int Burst(int perSecond) => perSecond * 2;
}

internal sealed class RateLimitOptionsValidator : IValidateOptions<RateLimitOptions>
{
    public ValidateOptionsResult Validate(string? name, RateLimitOptions options)
    {
        var failures = new List<string>();
        foreach (var (key, value) in new[]
                 {
                     ("AnonymousPerSecond", options.AnonymousPerSecond), ("UserPerSecond", options.UserPerSecond), ("HubCallsPerSecond", options.HubCallsPerSecond),
                 })
        {
            if (value is < 1 or > 1_000_000)
            {
                failures.Add($"Pasar:RateLimits:{key} must be between 1 and 1000000.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>
/// Per-node token buckets on the HTTP API, one per signed-in user and one per client address for anonymous calls
/// (see docs/adr/0011): a flood fills its own bucket and nobody else's. Refusals are <c>429 RATE_LIMITED</c> with
/// <c>Retry-After</c>.
/// </summary>
internal static class RateLimits
{
    public static void AddPasarRateLimits(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<RateLimitOptions>().BindConfiguration(RateLimitOptions.Section).ValidateOnStart();
        builder.Services.AddSingleton<IValidateOptions<RateLimitOptions>, RateLimitOptionsValidator>();
        builder.Services.AddRateLimiter(_ => { });
        builder.Services.AddOptions<RateLimiterOptions>().Configure<IOptions<RateLimitOptions>>((limiter, limits) =>
        {
            var anonymous = Bucket(limits.Value.AnonymousPerSecond);
            var user = Bucket(limits.Value.UserPerSecond);
            limiter.RejectionStatusCode = StatusCodes.Status429TooManyRequests;
            limiter.GlobalLimiter = PartitionedRateLimiter.Create<HttpContext, string>(context =>
                IsExempt(context.Request.Path) ? RateLimitPartition.GetNoLimiter("")
                : context.User.Identity?.IsAuthenticated == true ? RateLimitPartition.GetTokenBucketLimiter("u:" + context.User.UserId(), _ => user)
                : RateLimitPartition.GetTokenBucketLimiter("a:" + AddressKey(context.Connection.RemoteIpAddress), _ => anonymous));
            limiter.OnRejected = (rejected, ct) => RefuseAsync(rejected.HttpContext, rejected.Lease);
        });
    }

    public static void UsePasarRateLimits(this WebApplication app)
    {
        if (app.Services.GetRequiredService<IOptions<RateLimitOptions>>().Value.Enabled)
        {
            app.UseRateLimiter();
        }
    }

    /// <summary>
    /// Probes and metrics must answer under any load; video playlists and segments are fetched every second by
    /// every viewer, often many behind one address, and cost a file read; the hashed web assets are static files.
    /// </summary>
    internal static bool IsExempt(PathString path) =>
        path.StartsWithSegments("/healthz") || path.StartsWithSegments("/readyz") || path.StartsWithSegments("/metrics")
        || path.StartsWithSegments("/hls") || path.StartsWithSegments("/assets");

    /// <summary>
    /// The partition of an anonymous client: its IPv4 address, or its IPv6 /64, since one subscriber is
    /// usually handed a whole /64 and could otherwise take a fresh bucket per request.
    /// </summary>
    internal static string AddressKey(IPAddress? address)
    {
        if (address is null)
        {
            return "none";
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        if (address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6)
        {
            Span<byte> bytes = stackalloc byte[16];
            address.TryWriteBytes(bytes, out _);
            bytes[8..].Clear();
            return new IPAddress(bytes).ToString() + "/64";
        }

        return address.ToString();
    }

    private static TokenBucketRateLimiterOptions Bucket(int perSecond) => new()
    {
        TokenLimit = RateLimitOptions.Burst(perSecond),
        TokensPerPeriod = perSecond,
        ReplenishmentPeriod = TimeSpan.FromSeconds(1),
        QueueLimit = 0, // refuse at once: a queued request holds a connection, which is what a flood wants
        AutoReplenishment = true,
    };

    private static async ValueTask RefuseAsync(HttpContext context, RateLimitLease lease)
    {
        var retryAfter = lease.TryGetMetadata(MetadataName.RetryAfter, out var wait) ? wait : TimeSpan.FromSeconds(1);
        var seconds = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds));
        context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
        await ApiProblem.Create(StatusCodes.Status429TooManyRequests, "RATE_LIMITED", "Too many requests",
            $"Slow down: try again in {seconds} s.", new Dictionary<string, object?> { ["retryAfterSeconds"] = seconds }).ExecuteAsync(context);
    }
}
