using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using Dapper;

namespace Pasar.Bench;

/// <summary>
/// reminders: a scheduled show with 100,000 "notify me" subscribers (seeded straight into SQL); its reminder falls
/// due and the server's show-notice fan-out writes one SHOW_STARTING per subscriber. Measures the time from the
/// moment it was due to the last notification committed, from the server's own timestamps (due_at, done_at).
/// </summary>
public static class ReminderScenario
{
    public static async Task RunAsync(IReadOnlyList<string> backends, int subscribers)
    {
        Console.WriteLine($"Pasar.Bench reminders: {subscribers:N0} subscribers, {Environment.ProcessorCount} cores, " +
            $"{GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1L << 30)} GiB");
        Console.WriteLine();
        Console.WriteLine("| target | subscribers | batch | due → first batch (s) | due → all inserted (s) | notifications/s | CPU s (Pasar + its stores) |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var backend in backends)
        {
            // A 20 s lead: the show is scheduled 30 s ahead, so its reminder is due 10 s after it was created,
            // time enough to seed the subscribers first.
            await using var target = await BenchTarget.StartAsync(backend, new Dictionary<string, string?> { ["Pasar:Live:ReminderLeadMinutes"] = "0.3333333" });
            var minter = new JwtMinter(BenchTarget.SigningKey);
            using var http = new HttpClient { BaseAddress = target.Server.BaseAddress, Timeout = TimeSpan.FromSeconds(60) };
            using var create = new HttpRequestMessage(HttpMethod.Post, "/api/live/sessions")
            {
                Content = new StringContent(JsonSerializer.Serialize(new { title = "Bench show", scheduledAt = DateTimeOffset.UtcNow.AddSeconds(30) }), Encoding.UTF8, "application/json"),
            };
            create.Headers.Authorization = new("Bearer", minter.Mint("bench-seller", "seller"));
            using var created = await http.SendAsync(create);
            if (created.StatusCode != HttpStatusCode.Created)
            {
                throw new InvalidOperationException($"Creating the show failed: {(int)created.StatusCode} {await created.Content.ReadAsStringAsync()}");
            }

            var id = JsonDocument.Parse(await created.Content.ReadAsStringAsync()).RootElement.GetProperty("id").GetString()!;
            await using var c = await target.OpenDatabaseAsync();
            await c.ExecuteAsync(
                """
                WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < @subscribers)
                INSERT INTO show_reminders (session_id, user_id, created_at) SELECT @id, 'fan-' || i, 0 FROM n
                """, new { id, subscribers }, commandTimeout: 600);
            var due = await c.ExecuteScalarAsync<long>("SELECT due_at FROM show_notices WHERE session_id = @id AND type = 'SHOW_STARTING'", new { id });
            var cpu = target.CpuSeconds();
            var wall = Stopwatch.StartNew();
            long? done = null;
            while (done is null && wall.Elapsed < TimeSpan.FromMinutes(10))
            {
                await Task.Delay(100);
                done = await c.ExecuteScalarAsync<long?>("SELECT done_at FROM show_notices WHERE session_id = @id AND type = 'SHOW_STARTING'", new { id });
            }

            var first = await c.ExecuteScalarAsync<long>("SELECT MIN(created_at) FROM notifications WHERE type = 'SHOW_STARTING'");
            var notified = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM notifications WHERE type = 'SHOW_STARTING'");
            if (done is null || notified != subscribers)
            {
                throw new InvalidOperationException($"Only {notified} of {subscribers} reminders were written.");
            }

            var seconds = (done.Value - due) / 1000.0;
            Console.WriteLine(FormattableString.Invariant(
                $"| {target.Name} | {notified:N0} | 1,000 | {(first - due) / 1000.0:F2} | {seconds:F2} | {notified / seconds:F0} | {target.CpuSeconds() - cpu:F1} |"));
        }
    }
}
