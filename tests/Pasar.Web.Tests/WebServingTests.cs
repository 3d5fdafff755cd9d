using System.IO.Compression;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;

namespace Pasar.Web.Tests;

/// <summary>How the server serves the app: its pages, its assets, and nothing that shadows the API.</summary>
public sealed class WebServingTests
{
    private static void RequireBuiltApp()
    {
        if (!File.Exists(Path.Combine(Repo.WebDist, "index.html")))
        {
            if (string.Equals(Environment.GetEnvironmentVariable("CI"), "true", StringComparison.OrdinalIgnoreCase))
            {
                Assert.Fail("The web app is not built (cd web && npm ci && npm run build).");
            }

            Assert.Skip("The web app is not built (cd web && npm ci && npm run build).");
        }
    }

    [Fact]
    public async Task The_app_pages_serve_the_app_and_other_paths_keep_their_meaning()
    {
        RequireBuiltApp();
        await using var server = await WebServer.StartAsync();
        using var client = server.NewClient();
        var ct = TestContext.Current.CancellationToken;

        foreach (var path in new[] { "/", "/live/0197a1b2", "/p/0197a1b2", "/me", "/studio" })
        {
            var response = await client.GetAsync(path, ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
            Assert.Contains("<div id=\"app\">", await response.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
            Assert.Equal("no-cache", response.Headers.CacheControl?.ToString());
            Assert.Contains("script-src 'self'", response.Headers.GetValues("Content-Security-Policy").Single(), StringComparison.Ordinal);
        }

        // The fallback is only for the app's own pages: the API, share links and unknown paths are not swallowed.
        foreach (var path in new[] { "/api/nothing-here", "/api/products/nope/nothing", "/s/unknown-code", "/hls/nope/master.m3u8", "/live", "/elsewhere" })
        {
            var response = await client.GetAsync(path, ct);
            Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{path} answered {(int)response.StatusCode}");
            Assert.NotEqual("text/html", response.Content.Headers.ContentType?.MediaType);
        }

        var problem = await (await client.GetAsync("/api/nothing-here", ct)).Content.ReadFromJsonAsync<JsonElement>(ct);
        Assert.Equal("NOT_FOUND", problem.GetProperty("code").GetString());
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/healthz", ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await client.GetAsync("/openapi/v1.json", ct)).StatusCode);
    }

    [Fact]
    public async Task Assets_are_sent_compressed_and_cached_for_good()
    {
        RequireBuiltApp();
        await using var server = await WebServer.StartAsync();
        using var client = server.NewClient();
        var ct = TestContext.Current.CancellationToken;
        var html = await client.GetStringAsync("/", ct);
        var script = System.Text.RegularExpressions.Regex.Match(html, "src=\"(/assets/[^\"]+\\.js)\"").Groups[1].Value;
        Assert.NotEmpty(script);

        using var gzip = new HttpRequestMessage(HttpMethod.Get, script);
        gzip.Headers.AcceptEncoding.ParseAdd("gzip");
        var compressed = await client.SendAsync(gzip, ct);
        Assert.Equal(HttpStatusCode.OK, compressed.StatusCode);
        Assert.Equal("gzip", Assert.Single(compressed.Content.Headers.ContentEncoding));
        Assert.Equal("text/javascript", compressed.Content.Headers.ContentType?.MediaType);
        Assert.Contains("immutable", compressed.Headers.CacheControl?.ToString(), StringComparison.Ordinal);
        await using var unzipped = new GZipStream(await compressed.Content.ReadAsStreamAsync(ct), CompressionMode.Decompress);
        using var reader = new StreamReader(unzipped);
        var fromGzip = await reader.ReadToEndAsync(ct);

        var plain = await client.GetAsync(script, ct);
        Assert.Empty(plain.Content.Headers.ContentEncoding);
        Assert.Equal(await plain.Content.ReadAsStringAsync(ct), fromGzip);
    }

    /// <summary>
    /// The live room's script and style (the entry, the page's chunk and every chunk they import, plus CSS),
    /// gzip-compressed, stay under 300 KB: what a phone downloads to open a live show.
    /// </summary>
    [Fact]
    public void The_live_room_loads_under_300_KB_compressed()
    {
        RequireBuiltApp();
        var manifest = JsonDocument.Parse(File.ReadAllText(Path.Combine(Repo.WebDist, ".vite", "manifest.json"))).RootElement;
        var chunks = manifest.EnumerateObject().ToDictionary(p => p.Name, p => p.Value);
        var entry = chunks.Single(c => c.Value.TryGetProperty("isEntry", out var e) && e.GetBoolean()).Key;
        var page = chunks.Keys.Single(k => k.EndsWith("pages/LiveRoom.tsx", StringComparison.Ordinal));

        var files = new HashSet<string>();
        var seen = new HashSet<string>();
        void Walk(string key)
        {
            if (!seen.Add(key))
            {
                return;
            }

            var chunk = chunks[key];
            files.Add(chunk.GetProperty("file").GetString()!);
            if (chunk.TryGetProperty("css", out var css))
            {
                files.UnionWith(css.EnumerateArray().Select(c => c.GetString()!));
            }

            if (chunk.TryGetProperty("imports", out var imports))
            {
                foreach (var i in imports.EnumerateArray())
                {
                    Walk(i.GetString()!);
                }
            }
        }

        Walk(entry);
        Walk(page);

        long total = 0;
        foreach (var file in files)
        {
            using var buffer = new MemoryStream();
            using (var gz = new GZipStream(buffer, CompressionLevel.SmallestSize, leaveOpen: true))
            {
                gz.Write(File.ReadAllBytes(Path.Combine(Repo.WebDist, file)));
            }

            total += buffer.Length;
        }

        TestContext.Current.TestOutputHelper?.WriteLine($"Live room script + style: {total} bytes gzip in {files.Count} files");
        Assert.True(total < 300 * 1024, $"The live room loads {total / 1024.0:F1} KB compressed ({string.Join(", ", files)})");
        Assert.Contains(files, f => f.EndsWith(".css", StringComparison.Ordinal));
    }
}
