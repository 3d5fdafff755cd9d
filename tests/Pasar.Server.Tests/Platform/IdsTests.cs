using Pasar.Server.Platform;

namespace Pasar.Server.Tests.Platform;

public sealed class IdsTests
{
    [Fact]
    public void A_million_ids_from_several_threads_are_unique_and_strictly_increasing_in_issue_order()
    {
        const int threads = 4;
        const int perThread = 250_000;
        var issueLock = new Lock();
        var issued = new List<string>(threads * perThread);
        var perThreadIds = new string[threads][];
        var workers = Enumerable.Range(0, threads).Select(t => new Thread(() =>
        {
            var mine = new string[perThread];
            for (var i = 0; i < perThread; i++)
            {
                // Every other id is taken under the issue lock, so the global list is in the order the ids were made.
                if (i % 2 == 0)
                {
                    lock (issueLock)
                    {
                        mine[i] = Ids.New();
                        issued.Add(mine[i]);
                    }
                }
                else
                {
                    mine[i] = Ids.New();
                }
            }

            perThreadIds[t] = mine;
        })).ToList();
        workers.ForEach(w => w.Start());
        workers.ForEach(w => w.Join());

        var all = perThreadIds.SelectMany(x => x).ToList();
        Assert.Equal(threads * perThread, all.Count);
        Assert.Equal(all.Count, all.Distinct(StringComparer.Ordinal).Count());
        Assert.All(all, id => Assert.Matches("^[0-9a-f]{12}7[0-9a-f]{3}[89ab][0-9a-f]{15}$", id));
        foreach (var mine in perThreadIds)
        {
            AssertStrictlyIncreasing(mine);
        }

        AssertStrictlyIncreasing(issued);
        Assert.True(Guid.TryParseExact(all[0], "N", out _));
    }

    [Fact]
    public void Ids_keep_increasing_when_the_clock_stands_still_or_steps_back()
    {
        var clock = new SettableClock { Now = DateTimeOffset.Parse("2026-12-01T00:00:00Z", System.Globalization.CultureInfo.InvariantCulture) };
        var ids = new MonotonicUuidV7(clock);
        var made = new List<string>();
        for (var i = 0; i < 10_000; i++)
        {
            made.Add(ids.Next()); // all in the same millisecond
        }

        clock.Now = clock.Now.AddSeconds(-5); // NTP stepped the clock back
        for (var i = 0; i < 1_000; i++)
        {
            made.Add(ids.Next());
        }

        clock.Now = clock.Now.AddSeconds(10);
        made.Add(ids.Next());
        AssertStrictlyIncreasing(made);
        // Ordered by the millisecond first: the first 12 hex digits are the Unix time in milliseconds.
        Assert.Equal(clock.GetUtcNow().ToUnixTimeMilliseconds(), Convert.ToInt64(made[^1][..12], 16));
    }

    private static void AssertStrictlyIncreasing(IReadOnlyList<string> ids)
    {
        for (var i = 1; i < ids.Count; i++)
        {
            if (string.CompareOrdinal(ids[i - 1], ids[i]) >= 0)
            {
                Assert.Fail($"id {i} ({ids[i]}) is not after id {i - 1} ({ids[i - 1]})");
            }
        }
    }

    /// <summary>A wall clock that can also step back, which FakeTimeProvider refuses to do.</summary>
    private sealed class SettableClock : TimeProvider
    {
        public DateTimeOffset Now { get; set; }

        public override DateTimeOffset GetUtcNow() => Now;
    }
}
