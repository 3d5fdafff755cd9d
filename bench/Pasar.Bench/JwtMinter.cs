using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;

namespace Pasar.Bench;

/// <summary>
/// Signs HS256 tokens with the key the benchmark gave the server, as a platform's identity provider would,
/// so that scenarios needing thousands of distinct users do not measure the dev-token route.
/// </summary>
public sealed class JwtMinter(string signingKey, string issuer = "pasar", string audience = "pasar")
{
    private static readonly string Header = Base64Url.EncodeToString("""{"alg":"HS256","typ":"JWT"}"""u8);

    public string Mint(string userId, string role)
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var payload = JsonSerializer.SerializeToUtf8Bytes(new Dictionary<string, object>
        {
            ["sub"] = userId,
            ["role"] = role,
            ["name"] = userId,
            ["iss"] = issuer,
            ["aud"] = audience,
            ["iat"] = now,
            ["nbf"] = now - 60,
            ["exp"] = now + 3600,
        });
        var unsigned = Header + "." + Base64Url.EncodeToString(payload);
        var signature = HMACSHA256.HashData(Encoding.UTF8.GetBytes(signingKey), Encoding.UTF8.GetBytes(unsigned));
        return unsigned + "." + Base64Url.EncodeToString(signature);
    }
}
