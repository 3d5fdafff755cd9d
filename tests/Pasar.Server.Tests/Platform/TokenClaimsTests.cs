using System.Net;
using System.Runtime.Versioning;
using System.Text;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;
using Pasar.Server.Platform.Auth;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.Platform;

/// <summary>
/// A validly signed token is read strictly: one role or none at all, a name fit to show, and a seller who stays
/// a seller in the directory whatever role a later token for the same <c>sub</c> carries (ADR 0008).
/// </summary>
public sealed class TokenClaimsTests
{
    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_token_with_two_roles_is_refused_not_admin(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        using var client = ClientWith(app, new Dictionary<string, object> { ["sub"] = "two-roles", ["role"] = new[] { "buyer", "admin" } });

        var admin = await client.PostAsync("/api/admin/coins/adjustments", new StringContent("""{"userId":"two-roles","amount":10000000,"reason":"x"}""", Encoding.UTF8, "application/json"),
            TestContext.Current.CancellationToken);
        var mine = await client.GetAsync("/api/me/orders", TestContext.Current.CancellationToken);

        await admin.AssertProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        await mine.AssertProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        Assert.Equal(0L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM users WHERE id = 'two-roles'"));
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_buyer_token_for_a_sellers_sub_does_not_make_the_seller_vanish(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        using var seller = await app.ClientAsAsync("shop-1", "seller", "Shop One");
        Assert.Equal(HttpStatusCode.OK, (await seller.GetAsync("/api/me/orders", TestContext.Current.CancellationToken)).StatusCode);
        using var sameSubAsBuyer = await app.ClientAsAsync("shop-1", "buyer", "Shop One");
        Assert.Equal(HttpStatusCode.OK, (await sameSubAsBuyer.GetAsync("/api/me/orders", TestContext.Current.CancellationToken)).StatusCode);
        using var follower = await app.ClientAsAsync("fan-1", "buyer");

        var profile = await app.Client.GetAsync("/api/sellers/shop-1", TestContext.Current.CancellationToken);
        var follow = await follower.PutAsync("/api/me/following/shop-1", null, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, profile.StatusCode);
        Assert.Equal(HttpStatusCode.NoContent, follow.StatusCode);
        Assert.Equal("seller", await app.ScalarAsync<string>("SELECT role FROM users WHERE id = 'shop-1'"));
        // What the buyer token may do is still decided by its own role.
        var create = await sameSubAsBuyer.PostAsync("/api/products", new StringContent("""{"title":"x","priceMinor":1,"currency":"SGD","stock":1}""", Encoding.UTF8, "application/json"),
            TestContext.Current.CancellationToken);
        await create.AssertProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_long_name_with_control_characters_is_not_stored_as_sent(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        var sent = "Evil\u0007\u001b[31m\nAdmin\u202E" + new string('x', 5000);
        using var client = ClientWith(app, new Dictionary<string, object> { ["sub"] = "long-name", ["role"] = "buyer", ["name"] = sent });
        using var blank = ClientWith(app, new Dictionary<string, object> { ["sub"] = "blank-name", ["role"] = "buyer", ["name"] = "\u0000\u0001 \t" });

        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/me/orders", TestContext.Current.CancellationToken)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await blank.GetAsync("/api/me/orders", TestContext.Current.CancellationToken)).StatusCode);

        var stored = await app.ScalarAsync<string>("SELECT name FROM users WHERE id = 'long-name'");
        Assert.True(stored.Length <= TokenClaims.MaxNameLength, $"stored {stored.Length} characters");
        Assert.DoesNotContain(stored, c => char.IsControl(c) || c == '\u202E');
        Assert.StartsWith("Evil[31m Admin", stored, StringComparison.Ordinal);
        Assert.Equal("blank-name", await app.ScalarAsync<string>("SELECT name FROM users WHERE id = 'blank-name'"));
    }

    [Fact]
    [UnsupportedOSPlatform("windows")]
    public async Task The_signing_key_file_is_readable_by_its_owner_only()
    {
        Assert.SkipWhen(OperatingSystem.IsWindows(), "Unix file modes only");
        await using var app = await PasarApp.StartAsync(Backend.Embedded, s => s.Remove("Pasar:Auth:SigningKey"));
        using var client = await app.ClientAsAsync("u1", "buyer");
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/api/me/orders", TestContext.Current.CancellationToken)).StatusCode);

        var file = Path.Combine(app.Settings["Pasar:DataDir"]!, "signing-key");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
    }

    [Fact]
    [UnsupportedOSPlatform("windows")]
    public async Task A_key_file_left_readable_by_everyone_is_tightened_when_it_is_read()
    {
        Assert.SkipWhen(OperatingSystem.IsWindows(), "Unix file modes only");
        var dataDir = Path.Combine(Path.GetTempPath(), "pasar-test-" + Guid.NewGuid().ToString("N")[..10]);
        Directory.CreateDirectory(dataDir);
        var file = Path.Combine(dataDir, "signing-key");
        await File.WriteAllTextAsync(file, Convert.ToBase64String(new byte[48]), TestContext.Current.CancellationToken);
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        try
        {
            await using var app = await PasarApp.StartAsync(Backend.Embedded, s =>
            {
                s.Remove("Pasar:Auth:SigningKey");
                s["Pasar:DataDir"] = dataDir;
            });
            using var client = await app.ClientAsAsync("u1", "buyer");

            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        }
        finally
        {
            Directory.Delete(dataDir, recursive: true);
        }
    }

    /// <summary>A client whose token has exactly <paramref name="claims"/> (plus issuer, audience and times), signed with the app's key.</summary>
    private static HttpClient ClientWith(PasarApp app, Dictionary<string, object> claims)
    {
        var now = DateTime.UtcNow;
        var token = new JsonWebTokenHandler().CreateToken(new SecurityTokenDescriptor
        {
            Issuer = "pasar",
            Audience = "pasar",
            Claims = claims,
            IssuedAt = now,
            NotBefore = now.AddMinutes(-1),
            Expires = now.AddHours(1),
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Encoding.UTF8.GetBytes(app.Settings["Pasar:Auth:SigningKey"]!)), SecurityAlgorithms.HmacSha256),
        });
        var client = app.NewClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", token);
        return client;
    }
}
