using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Auth;

namespace Pasar.Server.LiveRoom;

/// <summary>
/// Anonymous viewer ids issued by the server (SPEC §17): <c>{id}.{mac}</c>, the MAC an HMAC-SHA256 of the id under a
/// key derived from the token signing key (so every node of a deployment accepts it, and it can never pass for a
/// token). A browser keeps the one it was given and presents it as <c>?anonId=</c>; an id the server did not sign
/// is not believed, and that connection counts as a viewer of its own. One connection is therefore at most one
/// viewer, and inventing ids inflates nothing.
/// </summary>
internal sealed class ViewerIds
{
    private const int IdBytes = 16;
    private const int MacBytes = 16;
    private readonly byte[] _key;

    public ViewerIds(TokenKeys keys) =>
        _key = HKDF.DeriveKey(HashAlgorithmName.SHA256, keys.SigningKey.Key, 32, info: "pasar:anonymous-viewer-id:v1"u8.ToArray());

    /// <summary>A fresh id and the token that proves the server issued it.</summary>
    public (string Id, string Token) Issue()
    {
        var id = Ids.Secret(IdBytes);
        return (id, id + "." + Mac(id));
    }

    /// <summary>The id inside <paramref name="token"/> if this deployment issued it.</summary>
    public bool TryRead(string? token, out string id)
    {
        id = "";
        if (string.IsNullOrEmpty(token) || token.Length > 64)
        {
            return false;
        }

        var dot = token.IndexOf('.', StringComparison.Ordinal);
        if (dot <= 0)
        {
            return false;
        }

        var candidate = token[..dot];
        var expected = Encoding.ASCII.GetBytes(Mac(candidate));
        var given = Encoding.ASCII.GetBytes(token[(dot + 1)..]);
        if (!CryptographicOperations.FixedTimeEquals(expected, given))
        {
            return false;
        }

        id = candidate;
        return true;
    }

    private string Mac(string id)
    {
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(_key, Encoding.ASCII.GetBytes(id), mac);
        return Base64Url.EncodeToString(mac[..MacBytes]);
    }
}
