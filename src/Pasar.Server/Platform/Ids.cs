using System.Buffers.Text;
using System.Security.Cryptography;

namespace Pasar.Server.Platform;

/// <summary>Opaque ids. Time-ordered (UUIDv7) so that "newest first" indexes stay append-only.</summary>
public static class Ids
{
    public static string New() => Guid.CreateVersion7().ToString("N");

    /// <summary>An unguessable URL-safe token of <paramref name="bytes"/> random bytes (base64url, no padding).</summary>
    public static string Secret(int bytes)
    {
        Span<byte> buffer = stackalloc byte[bytes];
        RandomNumberGenerator.Fill(buffer);
        return Base64Url.EncodeToString(buffer);
    }
}
