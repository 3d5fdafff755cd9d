using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Dapper;

namespace Pasar.Bench;

/// <summary>
/// Poll votes (SPEC §14): one open poll with four options in a live show, and a crowd voting through the HTTP API as
/// fast as the server answers. Every request is a new user's one vote (vote row under its primary key, conditional
/// count update, one commit); the counts go out coalesced at most four times a second. After the run the scenario
/// checks that the poll's counts sum to the votes it took.
/// </summary>
public static class PollScenario
{
    public static async Task<LoadResult> RunAsync(BenchTarget target, int concurrency, TimeSpan duration)
    {
        var minter = new JwtMinter(BenchTarget.SigningKey);
        using var http = DailyScenarios.Client(target, concurrency);
        var sellerToken = minter.Mint("poll-seller", "seller");
        var run = Guid.NewGuid().ToString("N")[..6];

        async Task<JsonElement> PostAsync(string path, object body)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
            request.Headers.Authorization = new("Bearer", sellerToken);
            using var response = await http.SendAsync(request);
            var text = await response.Content.ReadAsStringAsync();
            return response.IsSuccessStatusCode ? JsonDocument.Parse(text).RootElement.Clone() : throw new InvalidOperationException($"{path}: {text}");
        }

        var sessionId = (await PostAsync("/api/live/sessions", new { title = "Poll bench" })).GetProperty("id").GetString();
        await using (var c = await target.OpenDatabaseAsync())
        {
            // Stands in for the first RTMP media arriving: the session is on air.
            await c.ExecuteAsync("UPDATE live_sessions SET status = 'live', started_at = 0 WHERE id = @sessionId", new { sessionId });
        }

        var pollId = (await PostAsync($"/api/live/sessions/{sessionId}/polls",
            new { question = "Which colour next?", options = new[] { "Red", "Blue", "Green", "Gold" }, durationSeconds = 3600 })).GetProperty("id").GetString();
        var bodies = Enumerable.Range(0, 4).Select(i => Encoding.UTF8.GetBytes($$"""{"option":{{i}}}""")).ToArray();
        var reported = 0;

        async Task<LoadRunner.Outcome> Vote(int worker, long n)
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, $"/api/polls/{pollId}/votes") { Content = new ByteArrayContent(bodies[(worker + n) % 4]) };
            request.Content.Headers.ContentType = new("application/json");
            request.Headers.Authorization = new("Bearer", minter.Mint($"pv-{run}-{worker}-{n}", "buyer"));
            using var response = await http.SendAsync(request);
            if (response.StatusCode != HttpStatusCode.NoContent && Interlocked.Increment(ref reported) <= 3)
            {
                Console.Error.WriteLine($"unexpected {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
            }

            return response.StatusCode switch
            {
                HttpStatusCode.NoContent => LoadRunner.Outcome.Ok,
                HttpStatusCode.Conflict => LoadRunner.Outcome.Refused,
                _ => LoadRunner.Outcome.Failed,
            };
        }

        var result = await DailyScenarios.MeasureAsync("poll votes, one poll", target, concurrency, duration, Vote);
        await using (var c = await target.OpenDatabaseAsync())
        {
            var votes = await c.ExecuteScalarAsync<long>("SELECT COUNT(*) FROM poll_votes WHERE poll_id = @pollId", new { pollId });
            var counted = await c.ExecuteScalarAsync<long>("SELECT total_votes FROM polls WHERE id = @pollId", new { pollId });
            if (votes != counted || votes < result.Ok)
            {
                throw new InvalidOperationException($"poll {pollId}: {votes} vote rows, {counted} counted, {result.Ok} accepted in the measured run");
            }
        }

        return result;
    }
}
