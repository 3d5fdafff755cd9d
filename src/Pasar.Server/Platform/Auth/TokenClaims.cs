using System.Globalization;
using System.Security.Claims;
using System.Text;

namespace Pasar.Server.Platform.Auth;

/// <summary>
/// Turns a validly signed token's claims into the one identity the rest of Pasar reads: exactly one <c>sub</c>,
/// exactly one known <c>role</c>, and a <c>name</c> fit to show. A token that is ambiguous about who or what its
/// bearer is (two roles, two subjects) is refused rather than read by its first claim.
/// </summary>
internal static class TokenClaims
{
    public const int MaxUserIdLength = 64;
    public const int MaxNameLength = 80;

    /// <summary>
    /// The normalized identity, or the reason to refuse the token. <paramref name="roleClaim"/> is the claim that
    /// carries the role; <paramref name="defaultRole"/> is used when it is absent (null: the role is required).
    /// </summary>
    public static bool TryNormalize(ClaimsPrincipal principal, string roleClaim, string? defaultRole, string authenticationType,
        out ClaimsPrincipal normalized, out UserRecord user, out string? failure)
    {
        normalized = principal;
        user = null!;
        var subs = principal.FindAll("sub").ToList();
        var roles = principal.FindAll(roleClaim).ToList();
        var names = principal.FindAll("name").ToList();
        if (subs.Count != 1 || string.IsNullOrWhiteSpace(subs[0].Value) || subs[0].Value.Length > MaxUserIdLength || HasControl(subs[0].Value))
        {
            failure = $"The token needs exactly one 'sub' of at most {MaxUserIdLength} characters.";
            return false;
        }

        if (roles.Count > 1)
        {
            failure = $"The token has {roles.Count} '{roleClaim}' claims; it must have one.";
            return false;
        }

        var role = roles.Count == 1 ? roles[0].Value : defaultRole;
        if (role is null || !Roles.All.Contains(role))
        {
            failure = $"The token needs a '{roleClaim}' of buyer, seller or admin.";
            return false;
        }

        if (names.Count > 1)
        {
            failure = "The token has more than one 'name' claim.";
            return false;
        }

        var id = subs[0].Value;
        var rawName = names.Count == 1 ? names[0].Value : principal.FindFirst("preferred_username")?.Value;
        var name = DisplayName(rawName) ?? id;

        // Claims that others read (sub, role, name) are replaced by the checked ones; the rest are kept as sent.
        var claims = principal.Claims
            .Where(c => c.Type is not ("sub" or "role" or "name") && c.Type != roleClaim)
            .Append(new Claim("sub", id))
            .Append(new Claim("role", role))
            .Append(new Claim("name", name));
        normalized = new ClaimsPrincipal(new ClaimsIdentity(claims, authenticationType, "name", "role"));
        user = new UserRecord(id, name, role);
        failure = null;
        return true;
    }

    /// <summary>
    /// A name fit to store and show: control and bidirectional-override characters removed, whitespace runs
    /// collapsed, at most <see cref="MaxNameLength"/> characters without splitting a character; null when nothing is left.
    /// </summary>
    public static string? DisplayName(string? raw)
    {
        if (string.IsNullOrWhiteSpace(raw))
        {
            return null;
        }

        var text = new StringBuilder(Math.Min(raw.Length, MaxNameLength * 2));
        var lastWasSpace = true;
        var elements = StringInfo.GetTextElementEnumerator(raw);
        while (elements.MoveNext())
        {
            var element = elements.GetTextElement();
            if (element.Length == 1 && (char.IsWhiteSpace(element[0]) || char.IsControl(element[0])))
            {
                // A tab or a newline becomes a space; other control characters become nothing, as spaces would
                // let a name look like two lines.
                if (char.IsWhiteSpace(element[0]) && !lastWasSpace)
                {
                    text.Append(' ');
                    lastWasSpace = true;
                }

                continue;
            }

            var kept = Strip(element);
            if (kept.Length == 0)
            {
                continue;
            }

            if (text.Length + kept.Length > MaxNameLength)
            {
                break;
            }

            text.Append(kept);
            lastWasSpace = false;
        }

        var name = text.ToString().Trim();
        return name.Length == 0 ? null : name;
    }

    private static string Strip(string element)
    {
        if (!element.Any(IsHidden))
        {
            return element;
        }

        return new string(element.Where(c => !IsHidden(c)).ToArray());
    }

    // Control characters and the bidirectional overrides and isolates, which can make a name read as someone else's.
    private static bool IsHidden(char c) => char.IsControl(c) || c is (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069') or '\u200E' or '\u200F';

    private static bool HasControl(string s) => s.Any(char.IsControl);
}
