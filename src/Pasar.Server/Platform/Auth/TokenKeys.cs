using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace Pasar.Server.Platform.Auth;

/// <summary>
/// The key that signs and checks tokens. Configured (<c>Pasar:Auth:SigningKey</c>) so a platform's own
/// identity provider can issue tokens; in the embedded mode a random key is created once and kept in the
/// data directory, so tokens survive a restart.
/// </summary>
internal sealed class TokenKeys
{
    public TokenKeys(IOptions<PasarOptions> options, TimeProvider time)
    {
        Options = options.Value.Auth;
        Time = time;
        var key = Options.SigningKey;
        if (string.IsNullOrWhiteSpace(key))
        {
            var dir = options.Value.FullDataDir;
            Directory.CreateDirectory(dir);
            var file = Path.Combine(dir, "signing-key");
            if (!File.Exists(file))
            {
                var fresh = Convert.ToBase64String(RandomNumberGenerator.GetBytes(48));
                try
                {
                    // Created readable by its owner only: whoever reads it can sign any token, admin included.
                    var create = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
                    if (!OperatingSystem.IsWindows())
                    {
                        create.UnixCreateMode = OwnerOnly;
                    }

                    using var stream = new FileStream(file, create);
                    stream.Write(Encoding.UTF8.GetBytes(fresh));
                }
                catch (IOException) when (File.Exists(file))
                {
                    // Another node of the same data directory wrote it first; use theirs.
                }
            }
            else if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(file) & ~OwnerOnly) != 0)
            {
                // A key written by an older version was readable by everyone on the machine.
                File.SetUnixFileMode(file, OwnerOnly);
            }

            key = File.ReadAllText(file).Trim();
        }

        SigningKey = new SymmetricSecurityKey(Encoding.UTF8.GetBytes(key));
    }

    /// <summary>The mode of the key file: read and write for its owner, nothing for anyone else (0600).</summary>
    public const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    public AuthOptions Options { get; }

    public SymmetricSecurityKey SigningKey { get; }

    private TimeProvider Time { get; }

    public string Issue(string userId, string role, string? name, TimeSpan? lifetime = null)
    {
        var now = Time.GetUtcNow().UtcDateTime;
        var descriptor = new SecurityTokenDescriptor
        {
            Issuer = Options.Issuer,
            Audience = Options.Audience,
            Claims = new Dictionary<string, object> { ["sub"] = userId, ["role"] = role, ["name"] = name ?? userId },
            IssuedAt = now,
            NotBefore = now.AddMinutes(-1),
            Expires = now.Add(lifetime ?? Options.DevTokenLifetime),
            SigningCredentials = new SigningCredentials(SigningKey, SecurityAlgorithms.HmacSha256),
        };
        return new JsonWebTokenHandler().CreateToken(descriptor);
    }
}
