using System.Buffers.Binary;
using System.Buffers.Text;
using System.Security.Cryptography;

namespace Pasar.Server.Platform;

/// <summary>Opaque ids. Time-ordered (UUIDv7) so that "newest first" indexes stay append-only.</summary>
internal static class Ids
{
    // One generator for the process: monotonicity only means something across every id this process issues.
    private static readonly MonotonicUuidV7 Generator = new(TimeProvider.System);

    /// <summary>32 lower-case hex characters; within this process each is greater (ordinally) than every earlier one.</summary>
    public static string New() => Generator.Next();

    /// <summary>An unguessable URL-safe token of <paramref name="bytes"/> random bytes (base64url, no padding).</summary>
    public static string Secret(int bytes)
    {
        Span<byte> buffer = stackalloc byte[bytes];
        RandomNumberGenerator.Fill(buffer);
        return Base64Url.EncodeToString(buffer);
    }
}

/// <summary>
/// UUIDv7 ids that strictly increase within a process (RFC 9562 §6.2, method 1: a counter in the bits after the
/// timestamp). <see cref="Guid.CreateVersion7()"/> fills those bits at random, so two ids of the same millisecond
/// come out in either order and "newest first by id" is undefined there.
/// </summary>
/// <remarks>
/// Layout, big-endian: 48 bits Unix milliseconds, version 7, a 42-bit counter (the 12 rand_a bits, then 30 bits of
/// rand_b after the variant), 32 random bits. A new millisecond seeds the counter at random below 2^41, so ids do not
/// reveal how many came before and the counter cannot run out inside a millisecond (2^41 ids). If the clock stands
/// still or steps back, the last timestamp is kept and the counter goes on; if the counter ever were full, the
/// timestamp moves one millisecond ahead (RFC 9562 §6.2 allows both). Ids of different nodes are ordered only by
/// their millisecond.
/// </remarks>
internal sealed class MonotonicUuidV7(TimeProvider time)
{
    private const long CounterMax = (1L << 42) - 1;
    private const long CounterSeedRange = 1L << 41;

    // A lock of a few instructions: cheaper and plainer than a CAS over two fields (48-bit time + 42-bit counter
    // do not fit one 64-bit word).
    private readonly Lock _gate = new();
    private long _millis = long.MinValue;
    private long _counter;

    public string Next()
    {
        Span<byte> bytes = stackalloc byte[16];
        long millis, counter;
        lock (_gate)
        {
            var now = time.GetUtcNow().ToUnixTimeMilliseconds();
            if (now > _millis)
            {
                _millis = now;
                _counter = Random.Shared.NextInt64(CounterSeedRange);
            }
            else if (_counter < CounterMax)
            {
                _counter++;
            }
            else
            {
                _millis++;
                _counter = 0;
            }

            millis = _millis;
            counter = _counter;
        }

        BinaryPrimitives.WriteInt64BigEndian(bytes, millis << 16); // the low 48 bits of the time go first
        bytes[6] = (byte)(0x70 | (int)((counter >> 38) & 0x0F));
        bytes[7] = (byte)(counter >> 30);
        bytes[8] = (byte)(0x80 | (int)((counter >> 24) & 0x3F));
        bytes[9] = (byte)(counter >> 16);
        bytes[10] = (byte)(counter >> 8);
        bytes[11] = (byte)counter;
        RandomNumberGenerator.Fill(bytes[12..]);
        return Convert.ToHexStringLower(bytes);
    }
}
