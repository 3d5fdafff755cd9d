using System.Globalization;
using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.Live;

/// <summary>
/// A real ffmpeg show with a pin and a flash sale at known times: the replay's moments sit within a second of
/// them, its playlist carries matching DATERANGE tags, and an order from the replay counts in the show's stats.
/// </summary>
[Collection(FfmpegCollection.Name)]
public sealed partial class ShoppableReplayTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task Pins_and_a_flash_sale_become_replay_moments_at_their_offsets_and_a_replay_order_counts_for_the_show(Backend backend)
    {
        Ffmpeg.Require("ffmpeg");
        await using var app = await LiveApp.StartAsync(backend);
        using var seller = await app.ClientAsAsync("seller-replay", "seller", "Ayu");
        using var buyer = await app.ClientAsAsync("buyer-replay", "buyer", "Budi");
        var batik = (await seller.CreateProductAsync(stock: 20, priceMinor: 125_000, title: "Batik shirt")).GetProperty("id").GetString()!;
        var kopi = (await seller.CreateProductAsync(stock: 50, priceMinor: 9_900, title: "Kopi luwak")).GetProperty("id").GetString()!;
        var (sessionId, key) = await seller.CreateSessionAsync("Replay show");

        // Before it ends a session has no replay.
        await (await app.Client.GetAsync($"/api/live/sessions/{sessionId}/replay", Ct)).AssertProblemAsync(HttpStatusCode.Conflict, "SESSION_NOT_ENDED");
        await (await app.Client.GetAsync("/api/live/sessions/no-such-session/replay", Ct)).AssertProblemAsync(HttpStatusCode.NotFound, "SESSION_NOT_FOUND");

        await using var publisher = Ffmpeg.Publish(app.RtmpPort(), key, seconds: 30);
        await PasarApp.EventuallyAsync(async () => app.Recorded(sessionId).Count > 0, TimeSpan.FromSeconds(30), "the first segment");
        var startedAt = (await app.Client.SessionAsync(sessionId)).GetProperty("startedAt").GetDateTimeOffset();

        await Task.Delay(TimeSpan.FromSeconds(3), Ct);
        var pin = await seller.PostAsJsonAsync($"/api/live/sessions/{sessionId}/pins", new { productId = batik }, Ct);
        Assert.Equal(HttpStatusCode.OK, pin.StatusCode);
        var pinnedAt = (await pin.JsonAsync()).GetProperty("pinned").EnumerateArray().Single().GetProperty("pinnedAt").GetDateTimeOffset();

        await Task.Delay(TimeSpan.FromSeconds(3), Ct);
        var sale = await seller.PostAsJsonAsync($"/api/live/sessions/{sessionId}/flash-sales",
            new { productId = kopi, salePriceMinor = 4_900, quantity = 10, durationSeconds = 60, perUserLimit = 1 }, Ct);
        Assert.Equal(HttpStatusCode.Created, sale.StatusCode);
        var saleStartsAt = (await sale.JsonAsync()).GetProperty("startsAt").GetDateTimeOffset();

        await Task.Delay(TimeSpan.FromSeconds(4), Ct);
        Assert.Equal(HttpStatusCode.OK, (await seller.PostAsync($"/api/live/sessions/{sessionId}/end", null, Ct)).StatusCode);
        var endedAt = (await app.Client.SessionAsync(sessionId)).GetProperty("endedAt").GetDateTimeOffset();

        var replayResponse = await app.Client.GetAsync($"/api/live/sessions/{sessionId}/replay", Ct);
        Assert.True(replayResponse.StatusCode == HttpStatusCode.OK, await replayResponse.Content.ReadAsStringAsync(Ct));
        var replay = await replayResponse.JsonAsync();
        var duration = replay.GetProperty("durationSeconds").GetDouble();
        Assert.InRange(duration, (endedAt - startedAt).TotalSeconds - 3, (endedAt - startedAt).TotalSeconds + 1);

        var moments = replay.GetProperty("moments").EnumerateArray().ToList();
        Assert.Equal(2, moments.Count);
        Assert.Equal("pin", moments[0].GetProperty("kind").GetString());
        Assert.Equal(batik, moments[0].GetProperty("productId").GetString());
        Assert.Equal("Batik shirt", moments[0].GetProperty("title").GetString());
        Assert.Equal(125_000, moments[0].GetProperty("priceMinor").GetInt64());
        Assert.Equal("SGD", moments[0].GetProperty("currency").GetString());
        Assert.Equal("flashSale", moments[1].GetProperty("kind").GetString());
        Assert.Equal(kopi, moments[1].GetProperty("productId").GetString());
        Assert.Equal(4_900, moments[1].GetProperty("priceMinor").GetInt64()); // what the deal was

        // The session went live with its first media, which is the recording's first second.
        var pinOffset = moments[0].GetProperty("atSeconds").GetDouble();
        var saleOffset = moments[1].GetProperty("atSeconds").GetDouble();
        Assert.InRange(pinOffset, (pinnedAt - startedAt).TotalSeconds - 1, (pinnedAt - startedAt).TotalSeconds + 1);
        Assert.InRange(saleOffset, (saleStartsAt - startedAt).TotalSeconds - 1, (saleStartsAt - startedAt).TotalSeconds + 1);
        Assert.InRange(pinOffset, 2.5, duration);

        // The replay's media playlist: one DATERANGE per moment, whose START-DATE maps (through the segments'
        // PROGRAM-DATE-TIMEs) to the moment's offset.
        var url = replay.GetProperty("url").GetString()!;
        var master = await app.Client.GetStringAsync(url, Ct);
        var variant = master.Split('\n').Select(l => l.Trim()).First(l => l.Length > 0 && !l.StartsWith('#'));
        var playlist = await app.Client.GetStringAsync(new Uri(new Uri(app.BaseAddress, url), variant), Ct);
        var ranges = playlist.Split('\n').Where(l => l.StartsWith("#EXT-X-DATERANGE:", StringComparison.Ordinal)).ToList();
        Assert.Equal(2, ranges.Count);
        Assert.Contains("X-PASAR-KIND=\"pin\"", ranges[0]);
        Assert.Contains($"X-PASAR-PRODUCT-ID=\"{batik}\"", ranges[0]);
        Assert.Contains("X-PASAR-KIND=\"flashSale\"", ranges[1]);
        Assert.Contains($"X-PASAR-PRODUCT-ID=\"{kopi}\"", ranges[1]);
        Assert.Contains("#EXT-X-PROGRAM-DATE-TIME:", playlist);
        Assert.Equal(ranges.Count, ranges.Select(r => IdAttribute().Match(r).Groups[1].Value).Distinct().Count());
        Assert.InRange(PlayerOffset(playlist, StartDate(ranges[0])), pinOffset - 0.05, pinOffset + 0.05);
        Assert.InRange(PlayerOffset(playlist, StartDate(ranges[1])), saleOffset - 0.05, saleOffset + 0.05);

        // The flash sale has ended with the show; bought from the replay, the product costs today's price.
        var stats0 = await (await seller.GetAsync($"/api/live/sessions/{sessionId}/stats", Ct)).JsonAsync();
        var purchases0 = stats0.GetProperty("purchases").GetInt64();
        var order = await buyer.PlaceOrderAsync(kopi, idempotencyKey: Guid.NewGuid().ToString("N"), extra: new { productId = kopi, quantity = 2, sessionId });
        Assert.True(order.StatusCode == HttpStatusCode.Created, await order.Content.ReadAsStringAsync(Ct));
        var placed = await order.JsonAsync();
        Assert.Equal(9_900, placed.GetProperty("unitPriceMinor").GetInt64());
        Assert.Equal(sessionId, placed.GetProperty("sessionId").GetString());
        await PasarApp.EventuallyAsync(async () =>
        {
            var stats = await (await seller.GetAsync($"/api/live/sessions/{sessionId}/stats", Ct)).JsonAsync();
            return stats.GetProperty("purchases").GetInt64() == purchases0 + 1 && stats.GetProperty("gmvMinor").GetInt64() >= 19_800;
        }, TimeSpan.FromSeconds(20), "the replay order in the show's stats");
    }

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task An_order_naming_an_unknown_or_another_seller_s_session_is_refused_and_changes_nothing(Backend backend)
    {
        await using var app = await PasarApp.StartAsync(backend);
        using var seller = await app.ClientAsAsync("seller-a", "seller");
        using var other = await app.ClientAsAsync("seller-b", "seller");
        using var buyer = await app.ClientAsAsync("buyer-a", "buyer");
        var product = (await seller.CreateProductAsync(stock: 5)).GetProperty("id").GetString()!;
        var (otherSession, _) = await other.CreateSessionAsync("Someone else's show");
        var (ownSession, _) = await seller.CreateSessionAsync("Never on air");

        await (await buyer.PlaceOrderAsync(product, idempotencyKey: "k1", extra: new { productId = product, quantity = 1, sessionId = "no-such-session" }))
            .AssertProblemAsync(HttpStatusCode.NotFound, "SESSION_NOT_FOUND");
        await (await buyer.PlaceOrderAsync(product, idempotencyKey: "k2", extra: new { productId = product, quantity = 1, sessionId = otherSession }))
            .AssertProblemAsync(HttpStatusCode.UnprocessableEntity, "SESSION_MISMATCH");
        await (await buyer.PlaceOrderAsync(product, idempotencyKey: "k3", extra: new { productId = product, quantity = 1, sessionId = ownSession }))
            .AssertProblemAsync(HttpStatusCode.UnprocessableEntity, "SESSION_MISMATCH");
        var tooLong = await buyer.PlaceOrderAsync(product, idempotencyKey: "k4", extra: new { productId = product, quantity = 1, sessionId = new string('x', 65) });
        var problem = await tooLong.AssertProblemAsync(HttpStatusCode.BadRequest, "VALIDATION_FAILED");
        Assert.True(problem.GetProperty("errors").TryGetProperty("sessionId", out _));

        Assert.Equal(5L, await app.ScalarAsync<long>("SELECT stock FROM products WHERE id = @product", new { product }));
        Assert.Equal(0L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM orders"));
        Assert.Equal(0L, await app.ScalarAsync<long>("SELECT COUNT(*) FROM live_purchases"));

        // A created, never-live session has no replay either.
        await (await app.Client.GetAsync($"/api/live/sessions/{ownSession}/replay", Ct)).AssertProblemAsync(HttpStatusCode.Conflict, "SESSION_NOT_ENDED");
        Assert.Equal(HttpStatusCode.OK, (await seller.PostAsync($"/api/live/sessions/{ownSession}/end", null, Ct)).StatusCode);
        await (await app.Client.GetAsync($"/api/live/sessions/{ownSession}/replay", Ct)).AssertProblemAsync(HttpStatusCode.Conflict, "REPLAY_NOT_READY");
    }

    private static DateTimeOffset StartDate(string range) =>
        DateTimeOffset.Parse(StartDateAttribute().Match(range).Groups[1].Value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);

    /// <summary>Where a player puts a wall-clock time: the segment whose PROGRAM-DATE-TIME span holds it, plus the rest.</summary>
    private static double PlayerOffset(string playlist, DateTimeOffset at)
    {
        DateTimeOffset? wall = null;
        var offset = 0.0;
        foreach (var line in playlist.Split('\n'))
        {
            if (line.StartsWith("#EXT-X-PROGRAM-DATE-TIME:", StringComparison.Ordinal))
            {
                wall = DateTimeOffset.Parse(line["#EXT-X-PROGRAM-DATE-TIME:".Length..], CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal);
            }
            else if (line.StartsWith("#EXTINF:", StringComparison.Ordinal))
            {
                var duration = double.Parse(line["#EXTINF:".Length..].TrimEnd(','), CultureInfo.InvariantCulture);
                if (wall is { } w && at >= w && at < w.AddSeconds(duration))
                {
                    return offset + (at - w).TotalSeconds;
                }

                offset += duration;
                wall = wall?.AddSeconds(duration);
            }
        }

        return double.NaN;
    }

    [GeneratedRegex("START-DATE=\"([^\"]+)\"")]
    private static partial Regex StartDateAttribute();

    [GeneratedRegex("ID=\"([^\"]+)\"")]
    private static partial Regex IdAttribute();
}
