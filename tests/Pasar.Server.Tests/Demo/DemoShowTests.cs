using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Pasar.Server.Tests.Infrastructure;
using Pasar.Server.Tests.Live;
using Pasar.Testing;

namespace Pasar.Server.Tests.Demo;

/// <summary>
/// A newcomer's first start: the server as <c>dotnet run</c> starts it (embedded, Development, a fresh data folder,
/// real ffmpeg), with nothing else done. The demo seller is live within 30 s, its HLS plays, a buyer buys in its
/// flash sale, and its ffmpeg stops with the server.
/// </summary>
[Collection(FfmpegCollection.Name)]
public sealed class DemoShowTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_fresh_development_start_goes_live_with_a_demo_show_a_buyer_can_buy_in_and_its_ffmpeg_stops_with_the_server()
    {
        Ffmpeg.Require("ffmpeg");
        Ffmpeg.Require("ffprobe");
        var dataDir = Path.Combine(Path.GetTempPath(), "pasar-demo-show-" + Guid.NewGuid().ToString("N")[..8]);
        var settings = new Dictionary<string, string?>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Development",
            ["Pasar:DataDir"] = dataDir,
            ["Pasar:Rtmp:Port"] = "0",
            ["Pasar:Auth:DevTokens"] = "true",
            ["Pasar:RateLimits:Enabled"] = "false",
            ["Pasar:Demo:LiveShow"] = "true",
        };
        try
        {
            await using var server = await ServerProcess.StartAsync(settings, LocalServers.FreePort());
            using var client = server.NewClient();
            var started = DateTime.UtcNow;

            // Live within 30 s of start, listed as the home page lists shows on air.
            JsonElement show = default;
            await PasarApp.EventuallyAsync(async () =>
            {
                var page = await (await client.GetAsync("/api/live/sessions?status=live", Ct)).JsonAsync();
                var items = page.GetProperty("items").EnumerateArray().Where(s => s.GetProperty("sellerId").GetString() == "demo-seller-ayu").ToList();
                show = items.FirstOrDefault();
                return items.Count == 1;
            }, TimeSpan.FromSeconds(30), "the demo show on air\n" + server.Output);
            Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(30));
            var id = show.GetProperty("id").GetString()!;

            // Its HLS serves segments, and they decode as a vertical picture.
            var master = "";
            await PasarApp.EventuallyAsync(async () =>
            {
                var response = await client.GetAsync($"/hls/{id}/master.m3u8", Ct);
                master = response.StatusCode == HttpStatusCode.OK ? await response.Content.ReadAsStringAsync(Ct) : "";
                return master.Contains("RESOLUTION=480x854", StringComparison.Ordinal);
            }, TimeSpan.FromSeconds(30), "a master playlist with the vertical source");
            var variant = Regex.Match(master, @"^(?<v>source/[^\s]+)$", RegexOptions.Multiline).Groups["v"].Value;
            var segments = new List<string>();
            await PasarApp.EventuallyAsync(async () => (segments = await client.SegmentsAsync($"/hls/{id}/{variant}")).Count > 0,
                TimeSpan.FromSeconds(20), "a segment of the demo show");
            // The rendition as a player reads it (a CMAF segment decodes only after its init segment).
            var segmentUrl = new Uri(server.BaseAddress, $"/hls/{id}/{variant}").ToString();
            var probe = await Ffmpeg.RunAsync("ffprobe", ["-v", "error", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0", segmentUrl],
                TimeSpan.FromSeconds(30));
            Assert.True(probe.ExitCode == 0 && probe.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Distinct().SequenceEqual(["480,854"]), $"{segmentUrl}: {probe.Output}");

            // Pinned products, and a flash sale a buyer buys in.
            JsonElement sale = default;
            await PasarApp.EventuallyAsync(async () =>
            {
                var session = await (await client.GetAsync($"/api/live/sessions/{id}", Ct)).JsonAsync();
                sale = session.GetProperty("activeFlashSale");
                return session.GetProperty("pinned").GetArrayLength() >= 3 && sale.ValueKind == JsonValueKind.Object;
            }, TimeSpan.FromSeconds(30), "pinned products and an active flash sale");
            Assert.InRange(sale.GetProperty("quantity").GetInt32(), 1, 10);
            using var buyer = server.NewClient(await server.TokenAsync("demo-buyer-citra", "buyer"));
            using var purchase = new HttpRequestMessage(HttpMethod.Post, $"/api/flash-sales/{sale.GetProperty("id").GetString()}/purchases")
            {
                Content = JsonContent.Create(new { quantity = 1 }),
            };
            purchase.Headers.Add("Idempotency-Key", Guid.NewGuid().ToString("N"));
            var bought = await buyer.SendAsync(purchase, Ct);
            Assert.True(bought.StatusCode == HttpStatusCode.Created, await bought.Content.ReadAsStringAsync(Ct));

            // The server's own ffmpeg publishes the show (a second one transcodes its 360p rendition), and none
            // outlives the server.
            var ffmpeg = server.Children("ffmpeg");
            Assert.InRange(ffmpeg.Count, 1, 2);
            await server.StopAsync(TimeSpan.FromSeconds(30));
            Assert.DoesNotContain(ffmpeg, LocalServers.IsRunning);
        }
        finally
        {
            try
            {
                Directory.Delete(dataDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
