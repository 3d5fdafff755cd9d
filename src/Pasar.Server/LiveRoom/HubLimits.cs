using System.Threading.RateLimiting;
using Microsoft.AspNetCore.SignalR;
using Microsoft.Extensions.Options;
using Pasar.Server.Platform.Http;

namespace Pasar.Server.LiveRoom;

/// <summary>Structural limits of one hub connection; they hold whether or not rate limits are on.</summary>
internal static class HubLimits
{
    /// <summary>Products one connection may watch at once (a product page watches one; a room its pins).</summary>
    public const int MaxWatchedProducts = 50;

    /// <summary>Live sessions one connection may be in at once (the web app joins one).</summary>
    public const int MaxJoinedSessions = 8;

    public const string TooManyProducts = "TOO_MANY_PRODUCTS";
    public const string TooManySessions = "TOO_MANY_SESSIONS";
    public const string InvalidProduct = "INVALID_PRODUCT";
    public const string NotJoined = "NOT_JOINED";
    public const string InvalidReaction = "INVALID_REACTION";

    /// <summary>Ids are Pasar's own (32 hex digits) or a seed's readable ones: letters, digits, '-' and '_', at most 64.</summary>
    public static bool IsValidId(string? id) =>
        !string.IsNullOrEmpty(id) && id.Length <= 64 && id.All(static c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');
}

/// <summary>
/// Every live-room hub call passes here: a per-connection token bucket (<c>Pasar:RateLimits:HubCallsPerSecond</c>)
/// refuses a flood with <c>RATE_LIMITED</c>, and what a call throws is logged in proportion. A refusal
/// (<see cref="HubException"/>) is expected: at most one Debug line, no stack trace. SignalR's own dispatcher would
/// write an Error with a stack trace for each one (11 MB in 2 s of chat spam), so its category is silenced in
/// <see cref="LiveRoomModule"/> and unexpected failures are logged here instead, a few a minute.
/// </summary>
internal sealed class LiveHubFilter : IHubFilter, IDisposable
{
    private static readonly TimeSpan LogWindow = TimeSpan.FromMinutes(1);
    private const int UnexpectedLinesPerWindow = 5;

    private readonly PartitionedRateLimiter<string>? _limiter;
    private readonly LiveRoomMetrics _metrics;
    private readonly TimeProvider _time;
    private readonly ILogger<LiveHubFilter> _logger;
    private readonly Lock _logGate = new();
    private long _windowStart;
    private int _windowLines;
    private int _suppressed;

    public LiveHubFilter(IOptions<RateLimitOptions> options, LiveRoomMetrics metrics, TimeProvider time, ILogger<LiveHubFilter> logger)
    {
        _metrics = metrics;
        _time = time;
        _logger = logger;
        _windowStart = time.GetTimestamp();
        var rate = options.Value.HubCallsPerSecond;
        if (options.Value.Enabled)
        {
            // One partitioned limiter for all connections: a single timer replenishes every bucket (not one timer
            // per connection), and a connection's bucket is dropped once it has been full and idle for a while.
            _limiter = PartitionedRateLimiter.Create<string, string>(connectionId => RateLimitPartition.GetTokenBucketLimiter(connectionId, _ => new TokenBucketRateLimiterOptions
            {
                TokenLimit = rate * 2,
                TokensPerPeriod = rate,
                ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                QueueLimit = 0,
                AutoReplenishment = false,
            }));
        }
    }

    public async ValueTask<object?> InvokeMethodAsync(HubInvocationContext invocationContext, Func<HubInvocationContext, ValueTask<object?>> next)
    {
        if (_limiter is not null)
        {
            using var lease = _limiter.AttemptAcquire(invocationContext.Context.ConnectionId);
            if (!lease.IsAcquired)
            {
                _metrics.HubCallsRefused.Add(1, new KeyValuePair<string, object?>("code", ChatErrors.RateLimited));
                throw new HubException($"{ChatErrors.RateLimited}: Too many calls on this connection; slow down.");
            }
        }

        try
        {
            return await next(invocationContext);
        }
        catch (HubException ex)
        {
            _logger.LogDebug("Hub call {Method} refused: {Reason}", invocationContext.HubMethodName, ex.Message);
            throw;
        }
        catch (OperationCanceledException) when (invocationContext.Context.ConnectionAborted.IsCancellationRequested)
        {
            throw; // the caller went away mid-call
        }
        catch (Exception ex)
        {
            LogUnexpected(invocationContext.HubMethodName, ex);
            throw;
        }
    }

    private void LogUnexpected(string method, Exception ex)
    {
        _metrics.HubCallsFailed.Add(1, new KeyValuePair<string, object?>("method", method));
        int suppressed;
        bool first;
        lock (_logGate)
        {
            if (_time.GetElapsedTime(_windowStart) >= LogWindow)
            {
                _windowStart = _time.GetTimestamp();
                _windowLines = 0;
            }

            if (++_windowLines > UnexpectedLinesPerWindow)
            {
                _suppressed++;
                return;
            }

            first = _windowLines == 1;
            suppressed = _suppressed;
            _suppressed = 0;
        }

        // The first of a window carries the stack trace; the others say what failed in one line.
        if (first)
        {
            _logger.LogError(ex, "Hub call {Method} failed ({Suppressed} similar lines suppressed before)", method, suppressed);
        }
        else
        {
            _logger.LogError("Hub call {Method} failed: {Type}: {Message}", method, ex.GetType().Name, ex.Message);
        }
    }

    public void Dispose() => _limiter?.Dispose();
}
