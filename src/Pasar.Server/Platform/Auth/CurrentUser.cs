using System.Collections.Immutable;
using System.Security.Claims;

namespace Pasar.Server.Platform.Auth;

internal static class Roles
{
    public const string Buyer = "buyer";
    public const string Seller = "seller";
    public const string Admin = "admin";

    public static readonly ImmutableArray<string> All = [Buyer, Seller, Admin];
}

/// <summary>Authorization policies by role; "user" is anyone signed in.</summary>
internal static class Policies
{
    public const string User = "user";
    public const string Buyer = "buyer";
    public const string Seller = "seller";
    public const string Admin = "admin";
}

internal static class ClaimsPrincipalExtensions
{
    /// <summary>The user id (<c>sub</c>); only call on an authenticated principal.</summary>
    public static string UserId(this ClaimsPrincipal user) =>
        user.FindFirstValue("sub") ?? throw new InvalidOperationException("The principal has no 'sub' claim.");

    public static string? UserIdOrNull(this ClaimsPrincipal user) => user.Identity?.IsAuthenticated == true ? user.FindFirstValue("sub") : null;

    public static string Role(this ClaimsPrincipal user) => user.FindFirstValue("role") ?? Roles.Buyer;

    public static string DisplayName(this ClaimsPrincipal user) => user.FindFirstValue("name") ?? user.UserId();

    public static bool IsAdmin(this ClaimsPrincipal user) => user.IsInRole(Roles.Admin);
}
