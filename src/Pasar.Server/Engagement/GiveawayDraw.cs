using System.Security.Cryptography;
using System.Text;

namespace Pasar.Server.Engagement;

/// <summary>
/// The draw rule of SPEC §14 (ADR 0017): sort the entrants' user ids by the lowercase hex SHA-256 of (the 32 seed
/// bytes followed by the user id's UTF-8 bytes), ascending; the first <c>winners</c> win. Anyone holding the
/// revealed seed and the entrant list gets the same answer.
/// </summary>
internal static class GiveawayDraw
{
    public const int SeedBytes = 32;

    public static byte[] NewSeed() => RandomNumberGenerator.GetBytes(SeedBytes);

    public static string Hex(ReadOnlySpan<byte> bytes) => Convert.ToHexStringLower(bytes);

    public static string SeedHash(byte[] seed) => Hex(SHA256.HashData(seed));

    public static string Ticket(byte[] seed, string userId)
    {
        var id = Encoding.UTF8.GetBytes(userId);
        var input = new byte[seed.Length + id.Length];
        seed.CopyTo(input, 0);
        id.CopyTo(input, seed.Length);
        return Hex(SHA256.HashData(input));
    }

    public static IReadOnlyList<string> Winners(byte[] seed, IEnumerable<string> entrantIds, int winners) =>
        entrantIds
            .Select(id => (Id: id, Ticket: Ticket(seed, id)))
            .OrderBy(e => e.Ticket, StringComparer.Ordinal)
            .ThenBy(e => e.Id, StringComparer.Ordinal)
            .Take(winners)
            .Select(e => e.Id)
            .ToList();
}
