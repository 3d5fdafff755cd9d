using Microsoft.Extensions.Options;

namespace Pasar.Server.Platform;

/// <summary>The <c>Pasar</c> configuration section. Key names are part of the public contract (SPEC §10).</summary>
internal sealed class PasarOptions
{
    public const string Section = "Pasar";

    public string DataDir { get; set; } = "./data";
    public DatabaseOptions Database { get; set; } = new();
    public RedisOptions Redis { get; set; } = new();
    public AuthOptions Auth { get; set; } = new();
    public RegionOptions Region { get; set; } = new();
    public DemoOptions Demo { get; set; } = new();

    /// <summary>Embedded mode: SQLite and in-process Garnet, nothing else to install.</summary>
    public bool IsEmbedded => Database.Provider == DatabaseProvider.Sqlite && string.IsNullOrWhiteSpace(Redis.ConnectionString);

    public string FullDataDir => Path.GetFullPath(DataDir);
}

internal enum DatabaseProvider
{
    Sqlite,
    Postgres,
}

internal sealed class DatabaseOptions
{
    public DatabaseProvider Provider { get; set; } = DatabaseProvider.Sqlite;
    public string? ConnectionString { get; set; }
}

internal sealed class RedisOptions
{
    /// <summary>StackExchange.Redis configuration of an external Redis; empty starts Garnet in-process.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>Prefix of every key Pasar writes, so that several deployments can share one Redis.</summary>
    public string KeyPrefix { get; set; } = "pasar:";

    /// <summary>Memory of the embedded Garnet log (Garnet's <c>--memory</c>).</summary>
    public string EmbeddedMemory { get; set; } = "64m";

    /// <summary>Hash index size of the embedded Garnet (Garnet's <c>--index</c>).</summary>
    public string EmbeddedIndex { get; set; } = "8m";
}

internal sealed class AuthOptions
{
    /// <summary>
    /// Issue tokens at <c>POST /api/dev/tokens</c>: <c>true</c> always (tests, demos), <c>false</c> never. Unset, only in
    /// the embedded mode with the Development environment while bound to loopback only (SPEC §17).
    /// </summary>
    public bool? DevTokens { get; set; }
    public string Issuer { get; set; } = "pasar";
    public string Audience { get; set; } = "pasar";

    /// <summary>HMAC-SHA256 key, at least 32 bytes. In the embedded mode a random one is kept in the data directory.</summary>
    public string? SigningKey { get; set; }

    public TimeSpan DevTokenLifetime { get; set; } = TimeSpan.FromDays(7);

    /// <summary>
    /// How many validated tokens are remembered, so that a token's signature is checked once and not on every request
    /// (ADR 0026); 0 turns the cache off.
    /// </summary>
    public int TokenCacheEntries { get; set; } = 10_000;

    /// <summary>An OpenID Connect provider whose RS256/ES256 tokens (for <see cref="Audience"/>) are accepted besides the HS256 key.</summary>
    public string? Authority { get; set; }

    /// <summary>The web app's client id at <see cref="Authority"/> (authorization code with PKCE, a public client).</summary>
    public string? ClientId { get; set; }

    /// <summary>The scopes the web app asks the provider for.</summary>
    public string Scope { get; set; } = "openid profile";

    /// <summary>The claim of a provider's token that holds the role; a token without it is a buyer.</summary>
    public string RoleClaim { get; set; } = "role";

    public bool HasAuthority => !string.IsNullOrWhiteSpace(Authority);

    /// <summary>Plain-HTTP metadata is accepted from a loopback authority only (a provider on the same machine, tests).</summary>
    public bool AuthorityIsLoopback =>
        Uri.TryCreate(Authority, UriKind.Absolute, out var uri) && uri.IsLoopback;
}

internal sealed class RegionOptions
{
    public string TimeZone { get; set; } = "Asia/Singapore";
}

internal sealed class DemoOptions
{
    /// <summary>Create demo sellers and products on the first start. Defaults to on in the embedded mode only.</summary>
    public bool? Seed { get; set; }

    /// <summary>
    /// A demo seller goes live a few seconds after start, with a generated picture, pinned products and a flash sale
    /// every few minutes (<c>Pasar:Demo:LiveShow</c>). Only in the embedded mode with the Development environment
    /// and ffmpeg installed; tests and benchmarks turn it off.
    /// </summary>
    public bool LiveShow { get; set; } = true;

    /// <summary>Seconds after start before the demo show goes live (<c>Pasar:Demo:LiveShowDelaySeconds</c>).</summary>
    public double LiveShowDelaySeconds { get; set; } = 3;

    /// <summary>Seconds between the starts of the demo show's flash sales (<c>Pasar:Demo:FlashSaleEverySeconds</c>).</summary>
    public double FlashSaleEverySeconds { get; set; } = 180;

    /// <summary>How long each demo flash sale runs (<c>Pasar:Demo:FlashSaleSeconds</c>, 10 to 3600).</summary>
    public int FlashSaleSeconds { get; set; } = 90;

    /// <summary>Units in each demo flash sale (<c>Pasar:Demo:FlashSaleQuantity</c>).</summary>
    public int FlashSaleQuantity { get; set; } = 5;
}

/// <summary>Checks the options at start, so that a bad setting fails the start with its key named.</summary>
internal sealed class PasarOptionsValidator : IValidateOptions<PasarOptions>
{
    public ValidateOptionsResult Validate(string? name, PasarOptions options)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(options.DataDir))
        {
            failures.Add("Pasar:DataDir must name a folder.");
        }

        if (options.Database.Provider == DatabaseProvider.Postgres && string.IsNullOrWhiteSpace(options.Database.ConnectionString))
        {
            failures.Add("Pasar:Database:ConnectionString is required when Pasar:Database:Provider is Postgres.");
        }

        if (!TryFindTimeZone(options.Region.TimeZone, out _))
        {
            failures.Add($"Pasar:Region:TimeZone '{options.Region.TimeZone}' is not a known IANA time zone.");
        }

        if (!(options.Demo.LiveShowDelaySeconds is >= 0 and <= 3600) || !(options.Demo.FlashSaleEverySeconds is >= 10 and <= 86_400))
        {
            failures.Add("Pasar:Demo:LiveShowDelaySeconds must be between 0 and 3600, and Pasar:Demo:FlashSaleEverySeconds between 10 and 86400.");
        }

        if (options.Demo.FlashSaleSeconds is < 10 or > 3600 || options.Demo.FlashSaleQuantity is < 1 or > 1000)
        {
            failures.Add("Pasar:Demo:FlashSaleSeconds must be between 10 and 3600, and Pasar:Demo:FlashSaleQuantity between 1 and 1000.");
        }

        if (!options.IsEmbedded && string.IsNullOrWhiteSpace(options.Auth.SigningKey) && !options.Auth.HasAuthority)
        {
            failures.Add("Pasar:Auth:SigningKey (or Pasar:Auth:Authority) is required outside the embedded mode (PostgreSQL or an external Redis is configured).");
        }

        if (options.Auth.HasAuthority)
        {
            if (!Uri.TryCreate(options.Auth.Authority, UriKind.Absolute, out var authority) || !(authority.Scheme == Uri.UriSchemeHttps || (authority.Scheme == Uri.UriSchemeHttp && authority.IsLoopback)))
            {
                failures.Add($"Pasar:Auth:Authority '{options.Auth.Authority}' must be an absolute https URL (http only on loopback).");
            }

            if (string.IsNullOrWhiteSpace(options.Auth.ClientId))
            {
                failures.Add("Pasar:Auth:ClientId is required when Pasar:Auth:Authority is set (the web app signs in with it).");
            }

            if (string.IsNullOrWhiteSpace(options.Auth.RoleClaim))
            {
                failures.Add("Pasar:Auth:RoleClaim must not be empty.");
            }
        }

        if (!string.IsNullOrEmpty(options.Auth.SigningKey) && System.Text.Encoding.UTF8.GetByteCount(options.Auth.SigningKey) < 32)
        {
            failures.Add("Pasar:Auth:SigningKey must be at least 32 bytes long.");
        }

        if (string.IsNullOrWhiteSpace(options.Auth.Issuer))
        {
            failures.Add("Pasar:Auth:Issuer must not be empty.");
        }

        if (string.IsNullOrWhiteSpace(options.Auth.Audience))
        {
            failures.Add("Pasar:Auth:Audience must not be empty.");
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }

    internal static bool TryFindTimeZone(string id, out TimeZoneInfo zone)
    {
        try
        {
            zone = TimeZoneInfo.FindSystemTimeZoneById(id);
            return true;
        }
        catch (Exception ex) when (ex is TimeZoneNotFoundException or InvalidTimeZoneException or ArgumentException)
        {
            zone = TimeZoneInfo.Utc;
            return false;
        }
    }
}
