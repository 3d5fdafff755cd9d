using System.Collections.Concurrent;
using System.Security.Claims;
using Microsoft.Extensions.Options;

namespace Pasar.Server.Platform.Auth;

/// <summary>
/// Tokens that passed full validation (signature, issuer, audience, lifetime, <see cref="TokenClaims"/>), keyed by
/// the raw token, so that a buyer tapping Buy a hundred times has its signature checked once (ADR 0026). An entry
/// holds the normalized principal and is used only until the token expires (with the validation's clock skew) and
/// at most <see cref="MaxAge"/> after it was checked, so a provider's removed signing key stops working within that.
/// Only tokens that validated are stored: a tampered or unknown token is never found and is validated in full. The
/// raw token is the key, so two users never share an entry. At most <c>Pasar:Auth:TokenCacheEntries</c> are kept.
/// </summary>
internal sealed class ValidatedTokens(IOptions<PasarOptions> options, TimeProvider time)
{
    /// <summary>The longest a checked token is trusted without checking it again.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(5);

    private readonly int _capacity = Math.Max(0, options.Value.Auth.TokenCacheEntries);
    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);
    private readonly Lock _trimming = new();

    private sealed record Entry(string Scheme, ClaimsPrincipal Principal, long UsableUntil);

    internal int Count => _entries.Count;

    /// <summary>The principal of <paramref name="token"/> if it validated for <paramref name="scheme"/> and is still usable.</summary>
    public bool TryGet(string scheme, string token, out ClaimsPrincipal principal)
    {
        if (_entries.TryGetValue(token, out var entry) && entry.Scheme == scheme)
        {
            if (time.GetUtcNow().UtcTicks < entry.UsableUntil)
            {
                principal = entry.Principal;
                return true;
            }

            _entries.TryRemove(KeyValuePair.Create(token, entry));
        }

        principal = null!;
        return false;
    }

    /// <summary>Remembers a token that has just validated in full, until <paramref name="expires"/> plus <paramref name="clockSkew"/>.</summary>
    public void Add(string scheme, string token, ClaimsPrincipal principal, DateTime expires, TimeSpan clockSkew)
    {
        if (_capacity == 0 || expires == DateTime.MinValue)
        {
            return;
        }

        var now = time.GetUtcNow().UtcTicks;
        var until = Math.Min(DateTime.SpecifyKind(expires, DateTimeKind.Utc).Ticks + clockSkew.Ticks, now + MaxAge.Ticks);
        if (until <= now)
        {
            return;
        }

        if (_entries.Count >= _capacity)
        {
            Trim(now);
        }

        _entries[token] = new Entry(scheme, principal, until);
    }

    // Full: drop what expired; if that is not enough, start over (a miss only costs a full validation).
    private void Trim(long now)
    {
        lock (_trimming)
        {
            if (_entries.Count < _capacity)
            {
                return;
            }

            foreach (var (token, entry) in _entries)
            {
                if (entry.UsableUntil <= now)
                {
                    _entries.TryRemove(token, out _);
                }
            }

            if (_entries.Count >= _capacity)
            {
                _entries.Clear();
            }
        }
    }
}
