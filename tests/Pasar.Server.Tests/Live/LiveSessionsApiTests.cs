using System.Net;
using System.Net.Http.Json;
using System.Text;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.Live;

/// <summary>The session routes of SPEC §6.1 and the HLS file server, without a publisher.</summary>
public sealed class LiveSessionsApiTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_seller_creates_a_session_that_anyone_can_read_and_only_the_owner_can_rotate_or_end(Backend backend)
    {
        await using var app = await LiveApp.StartAsync(backend);
        using var seller = await app.ClientAsAsync("seller-a", "seller");
        using var other = await app.ClientAsAsync("seller-b", "seller");
        using var buyer = await app.ClientAsAsync("buyer-a", "buyer");

        var created = await seller.PostAsJsonAsync("/api/live/sessions", new { title = "  Flash deals at noon  " }, Ct);
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = await created.JsonAsync();
        var id = body.GetProperty("id").GetString()!;
        Assert.Equal("created", body.GetProperty("status").GetString());
        Assert.Equal($"rtmp://127.0.0.1:{app.RtmpPort()}/live", body.GetProperty("rtmpUrl").GetString());
        Assert.Equal($"/hls/{id}/master.m3u8", body.GetProperty("playbackUrl").GetString());
        var key = body.GetProperty("streamKey").GetString()!;
        Assert.True(key.Length >= 40);
        Assert.Equal(0L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM live_sessions WHERE stream_key_hash = @key", new { key }));

        var session = await app.Client.SessionAsync(id);
        Assert.Equal("Flash deals at noon", session.GetProperty("title").GetString());
        Assert.Equal("seller-a", session.GetProperty("sellerId").GetString());
        Assert.Equal(0, session.GetProperty("viewers").GetProperty("current").GetInt32());
        Assert.Equal(0, session.GetProperty("viewers").GetProperty("peak").GetInt32());
        Assert.Empty(session.GetProperty("pinned").EnumerateArray());
        Assert.Equal(System.Text.Json.JsonValueKind.Null, session.GetProperty("activeFlashSale").ValueKind);
        Assert.Equal(System.Text.Json.JsonValueKind.Null, session.GetProperty("replayUrl").ValueKind);
        Assert.False(session.TryGetProperty("streamKey", out _));

        await (await other.PostAsync($"/api/live/sessions/{id}/stream-key/rotate", null, Ct)).AssertProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        await (await other.PostAsync($"/api/live/sessions/{id}/end", null, Ct)).AssertProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        await (await buyer.PostAsJsonAsync("/api/live/sessions", new { title = "x" }, Ct)).AssertProblemAsync(HttpStatusCode.Forbidden, "FORBIDDEN");
        await (await app.Client.PostAsJsonAsync("/api/live/sessions", new { title = "x" }, Ct)).AssertProblemAsync(HttpStatusCode.Unauthorized, "UNAUTHORIZED");
        await (await seller.PostAsync("/api/live/sessions/nope/end", null, Ct)).AssertProblemAsync(HttpStatusCode.NotFound, "SESSION_NOT_FOUND");
        await (await app.Client.GetAsync("/api/live/sessions/nope", Ct)).AssertProblemAsync(HttpStatusCode.NotFound, "SESSION_NOT_FOUND");

        var ended = await seller.PostAsync($"/api/live/sessions/{id}/end", null, Ct);
        Assert.Equal(HttpStatusCode.OK, ended.StatusCode);
        Assert.Equal("ended", (await ended.JsonAsync()).GetProperty("status").GetString());
        await (await seller.PostAsync($"/api/live/sessions/{id}/end", null, Ct)).AssertProblemAsync(HttpStatusCode.Conflict, "SESSION_ENDED");
        await (await seller.PostAsync($"/api/live/sessions/{id}/stream-key/rotate", null, Ct)).AssertProblemAsync(HttpStatusCode.Conflict, "SESSION_ENDED");
        Assert.Equal(1L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM outbox WHERE type = 'LiveEnded'"));
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Lists_filter_by_status_and_page_newest_first(Backend backend)
    {
        await using var app = await LiveApp.StartAsync(backend);
        using var seller = await app.ClientAsAsync("seller-list", "seller");
        var ids = new List<string>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add((await seller.CreateSessionAsync($"Session {i}")).Id);
        }

        await seller.PostAsync($"/api/live/sessions/{ids[0]}/end", null, Ct);
        var first = await (await app.Client.GetAsync("/api/live/sessions?status=created&limit=2", Ct)).JsonAsync();
        Assert.Equal([ids[4], ids[3]], first.GetProperty("items").EnumerateArray().Select(s => s.GetProperty("id").GetString()!));
        var cursor = first.GetProperty("nextCursor").GetString();
        var second = await (await app.Client.GetAsync($"/api/live/sessions?status=created&limit=2&cursor={cursor}", Ct)).JsonAsync();
        Assert.Equal([ids[2], ids[1]], second.GetProperty("items").EnumerateArray().Select(s => s.GetProperty("id").GetString()!));
        Assert.Equal(System.Text.Json.JsonValueKind.Null, second.GetProperty("nextCursor").ValueKind);
        var live = await (await app.Client.GetAsync("/api/live/sessions?status=live", Ct)).JsonAsync();
        Assert.Empty(live.GetProperty("items").EnumerateArray());
        var ended = await (await app.Client.GetAsync("/api/live/sessions?status=ended", Ct)).JsonAsync();
        Assert.Equal(ids[0], Assert.Single(ended.GetProperty("items").EnumerateArray()).GetProperty("id").GetString());
    }

    [Fact]
    public async Task Bad_input_is_a_validation_problem_and_changes_nothing()
    {
        await using var app = await LiveApp.StartAsync(Backend.Embedded);
        using var seller = await app.ClientAsAsync("seller-bad", "seller");
        foreach (var json in new[] { "{}", """{"title":""}""", """{"title":"   "}""", $$"""{"title":"{{new string('x', 201)}}"}""", """{"title":"a\u0007b"}""" })
        {
            var response = await seller.PostAsync("/api/live/sessions", new StringContent(json, Encoding.UTF8, "application/json"), Ct);
            var problem = await response.AssertProblemAsync(HttpStatusCode.BadRequest, "VALIDATION_FAILED");
            Assert.True(problem.GetProperty("errors").TryGetProperty("title", out _), json);
        }

        await (await seller.PostAsync("/api/live/sessions", new StringContent("""{"title":5}""", Encoding.UTF8, "application/json"), Ct))
            .AssertProblemAsync(HttpStatusCode.BadRequest, "INVALID_BODY");
        await (await app.Client.GetAsync("/api/live/sessions?status=paused", Ct)).AssertProblemAsync(HttpStatusCode.BadRequest, "VALIDATION_FAILED");
        await (await app.Client.GetAsync("/api/live/sessions?limit=0", Ct)).AssertProblemAsync(HttpStatusCode.BadRequest, "VALIDATION_FAILED");
        await (await app.Client.GetAsync("/api/live/sessions?cursor=garbage", Ct)).AssertProblemAsync(HttpStatusCode.BadRequest, "VALIDATION_FAILED");
        Assert.Equal(0L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM live_sessions"));
    }

    [Fact]
    public async Task Hls_files_have_their_mime_types_and_cache_headers_and_nothing_outside_the_session_is_reachable()
    {
        await using var app = await LiveApp.StartAsync(Backend.Embedded);
        const string id = "0123456789abcdef0123456789abcdef";
        var directory = app.SessionDirectory(id);
        Directory.CreateDirectory(Path.Combine(directory, "source"));
        await File.WriteAllTextAsync(Path.Combine(directory, "master.m3u8"), "#EXTM3U\n", Ct);
        await File.WriteAllTextAsync(Path.Combine(directory, "source", "index.m3u8"), "#EXTM3U\n", Ct);
        await File.WriteAllBytesAsync(Path.Combine(directory, "source", "r001_00000.ts"), new byte[188 * 4], Ct);
        await File.WriteAllTextAsync(Path.Combine(app.HlsRoot(), "secret.txt"), "secret", Ct);
        await File.WriteAllTextAsync(Path.Combine(directory, "source", "recording.m3u8"), "#EXTM3U\n", Ct);

        var master = await app.Client.GetAsync($"/hls/{id}/master.m3u8", Ct);
        Assert.Equal(HttpStatusCode.OK, master.StatusCode);
        Assert.Equal("application/vnd.apple.mpegurl", master.Content.Headers.ContentType?.MediaType);
        Assert.True(master.Headers.CacheControl?.MaxAge <= TimeSpan.FromSeconds(1) || master.Headers.CacheControl?.NoCache == true);
        var variant = await app.Client.GetAsync($"/hls/{id}/source/index.m3u8", Ct);
        Assert.Equal("application/vnd.apple.mpegurl", variant.Content.Headers.ContentType?.MediaType);
        var segment = await app.Client.GetAsync($"/hls/{id}/source/r001_00000.ts", Ct);
        Assert.Equal(HttpStatusCode.OK, segment.StatusCode);
        Assert.Equal("video/mp2t", segment.Content.Headers.ContentType?.MediaType);
        Assert.Equal(TimeSpan.FromDays(365), segment.Headers.CacheControl?.MaxAge);
        Assert.Contains("immutable", segment.Headers.CacheControl?.ToString(), StringComparison.Ordinal);
        Assert.Equal(188 * 4, (await segment.Content.ReadAsByteArrayAsync(Ct)).Length);

        // Raw request lines, so that no client normalizes the path before the server sees it.
        foreach (var path in new[]
        {
            $"/hls/{id}/../secret.txt",
            $"/hls/{id}/%2e%2e/secret.txt",
            $"/hls/{id}/%2E%2E%2Fsecret.txt",
            $"/hls/{id}/source/..%2f..%2fsecret.txt",
            $"/hls/{id}//etc/passwd",
            $"/hls/{id}/%2Fetc%2Fpasswd",
            $"/hls/{id}/source/recording.m3u8",
            $"/hls/{id}/source/_r001.m3u8",
            "/hls/..%2f..%2f/master.m3u8",
            "/hls/%2e%2e/secret.txt",
            $"/hls/{id}/source/r001_00001.ts",
            $"/hls/{id.ToUpperInvariant()}/master.m3u8",
        })
        {
            var (status, text) = await RawGetAsync(app.BaseAddress, path);
            Assert.True(status is 404 or 400, $"{path} answered {status}");
            Assert.DoesNotContain("secret", text, StringComparison.Ordinal);
            Assert.DoesNotContain("root:", text, StringComparison.Ordinal);
        }
    }

    private static async Task<(int Status, string Text)> RawGetAsync(Uri server, string path)
    {
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync(server.Host, server.Port, Ct);
        var stream = client.GetStream();
        await stream.WriteAsync(Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"), Ct);
        using var reader = new StreamReader(stream, Encoding.UTF8);
        var text = await reader.ReadToEndAsync(Ct);
        return (int.Parse(text.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture), text);
    }
}
