using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;
using Pasar.Server.Catalog;
using Pasar.Server.FlashSales;
using Pasar.Server.Live;
using Pasar.Server.LiveRoom;
using Pasar.Server.Platform;
using Pasar.Server.Platform.Http;
using Pasar.Server.Platform.Storage;

namespace Pasar.Server.Demo;

/// <summary>
/// A live show for a newcomer's first start (ADR 0022): the demo seller goes live through Pasar's own RTMP ingest
/// with an ffmpeg-generated vertical picture and a moving product name, pins the demo products, and runs a small
/// flash sale every few minutes, restocking its product first. It uses the same services as a seller's API calls.
/// Runs only in the embedded mode, in the Development environment, with ffmpeg installed and
/// <c>Pasar:Demo:LiveShow</c> not false; ffmpeg stops with the server.
/// </summary>
internal sealed class DemoShow(
    IOptions<PasarOptions> pasar,
    IOptions<LiveOptions> live,
    IOptions<RtmpListenOptions> rtmpListen,
    IHostEnvironment environment,
    LiveSessionStore sessions,
    RtmpEndpoint rtmp,
    LivePins pins,
    RoomBroadcaster broadcaster,
    FlashSaleService flashSales,
    Database database,
    ICatalogStock catalog,
    TimeProvider time,
    IHostApplicationLifetime lifetime,
    ILogger<DemoShow> logger) : BackgroundService
{
    /// <summary>The demo seller who hosts the show (seeded by <see cref="DemoData"/>).</summary>
    public const string SellerId = "demo-seller-ayu";

    public const string Title = "Batik live: new arrivals (demo show)";

    /// <summary>Vertical, as sellers stream from phones; small enough for a laptop to encode beside everything else.</summary>
    internal const string PictureSize = "480x854";

    private const int FrameRate = 24;

    /// <summary>Stock a show product is topped up to before each flash sale.</summary>
    private const int RestockTo = 20;

    private Process? _ffmpeg;

    /// <summary>The show's live session, once created (for tests and logs).</summary>
    public string? SessionId { get; private set; }

    /// <summary>Whether this start runs the demo show, and why not when it does not.</summary>
    internal static (bool Runs, string Reason) Decide(PasarOptions options, IHostEnvironment environment, string ffmpeg)
    {
        if (!options.Demo.LiveShow)
        {
            return (false, "Pasar:Demo:LiveShow is false");
        }

        if (!options.IsEmbedded)
        {
            return (false, "not the embedded mode");
        }

        if (!environment.IsDevelopment())
        {
            return (false, $"the environment is {environment.EnvironmentName}, not Development");
        }

        return FindExecutable(ffmpeg) is null ? (false, $"{ffmpeg} is not installed") : (true, "");
    }

    /// <summary>A path as given when it exists, else the first match on PATH.</summary>
    internal static string? FindExecutable(string name)
    {
        if (Path.IsPathRooted(name) || name.Contains(Path.DirectorySeparatorChar, StringComparison.Ordinal))
        {
            return File.Exists(name) ? Path.GetFullPath(name) : null;
        }

        foreach (var dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            foreach (var candidate in OperatingSystem.IsWindows() ? [name, name + ".exe"] : new[] { name })
            {
                var path = Path.Combine(dir, candidate);
                if (File.Exists(path))
                {
                    return path;
                }
            }
        }

        return null;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var options = pasar.Value.Demo;
        var (runs, reason) = Decide(pasar.Value, environment, live.Value.FfmpegPath);
        if (!runs)
        {
            logger.LogDebug("No demo show: {Reason}", reason);
            return;
        }

        try
        {
            // After Kestrel has bound the RTMP port (hosted services start before the server does).
            var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            using (lifetime.ApplicationStarted.Register(() => started.TrySetResult()))
            {
                await started.Task.WaitAsync(stoppingToken);
            }

            await Task.Delay(TimeSpan.FromSeconds(options.LiveShowDelaySeconds), time, stoppingToken);
            var products = await ProductsAsync(stoppingToken);
            if (products.Count == 0)
            {
                logger.LogInformation("No demo show: the demo seller {SellerId} has no products (Pasar:Demo:Seed is off?)", SellerId);
                return;
            }

            var (session, key) = await SessionAsync(stoppingToken);
            SessionId = session.Id;
            var publisher = Task.Run(() => PublishAsync(key, products, stoppingToken), stoppingToken);
            if (!await WaitLiveAsync(session.Id, stoppingToken))
            {
                logger.LogWarning("Demo show {SessionId}: not live 60 s after ffmpeg started; no pins or flash sales this time", session.Id);
                await publisher;
                return;
            }

            logger.LogInformation("Demo show live: session {SessionId} by {SellerId}", session.Id, SellerId);
            await PinAsync(session.Id, products, stoppingToken);
            for (var round = 0; !stoppingToken.IsCancellationRequested; round++)
            {
                await FlashSaleAsync(session.Id, products[round % products.Count], stoppingToken);
                await Task.Delay(TimeSpan.FromSeconds(options.FlashSaleEverySeconds), time, stoppingToken);
            }

            await publisher;
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
        catch (Exception ex)
        {
            logger.LogError(ex, "The demo show stopped");
        }
        finally
        {
            StopFfmpeg();
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        await base.StopAsync(cancellationToken);
        StopFfmpeg();
    }

    private async Task<IReadOnlyList<Product>> ProductsAsync(CancellationToken ct)
    {
        await using var c = await database.OpenAsync(ct);
        var rows = await ProductStore.ListAsync(c, SellerId, PageRequest.From(20, null, new RequestValidator()), ct);
        return [.. rows.Select(r => r.ToProduct()).OrderBy(p => p.CreatedAt)];
    }

    /// <summary>The demo seller's show from before a restart when it is still in its reconnect grace, else a new one.</summary>
    private async Task<(LiveSessionRow Session, string Key)> SessionAsync(CancellationToken ct)
    {
        var key = LiveSessionStore.NewStreamKey();
        var previous = (await sessions.ListLiveAsync(ct)).Where(s => s.SellerId == SellerId).MaxBy(s => s.CreatedAt);
        if (previous is not null && await sessions.RotateKeyAsync(previous.Id, key, ct))
        {
            return (previous, key);
        }

        return (await sessions.CreateAsync(SellerId, Title, key, ct), key);
    }

    private async Task<bool> WaitLiveAsync(string sessionId, CancellationToken ct)
    {
        for (var waited = TimeSpan.Zero; waited < TimeSpan.FromSeconds(60); waited += TimeSpan.FromMilliseconds(500))
        {
            if ((await sessions.FindAsync(sessionId, ct))?.Status == LiveStatus.Live)
            {
                return true;
            }

            await Task.Delay(TimeSpan.FromMilliseconds(500), time, ct);
        }

        return false;
    }

    private async Task PinAsync(string sessionId, IReadOnlyList<Product> products, CancellationToken ct)
    {
        foreach (var product in products.Take(LivePins.MaxPinned).Reverse())
        {
            var (outcome, pinned) = await pins.PinAsync(sessionId, SellerId, product.Id, ct);
            if (outcome == LivePins.Outcome.Done)
            {
                await broadcaster.PublishAsync(RoomTarget.Session, sessionId, "pinsUpdated", new PinsUpdated(sessionId, pinned));
            }
        }
    }

    /// <summary>Tops the product's stock back up (what earlier sales sold), then starts a small sale at 30% off.</summary>
    private async Task FlashSaleAsync(string sessionId, Product product, CancellationToken ct)
    {
        var options = pasar.Value.Demo;
        await database.InTransactionAsync(async (c, tx) =>
        {
            var current = await catalog.FindAsync(c, tx, product.Id, ct);
            var needed = Math.Max(RestockTo, options.FlashSaleQuantity) - (current?.Stock ?? 0);
            if (current is not null && needed > 0)
            {
                await catalog.ReturnStockAsync(c, tx, product.Id, needed, time.GetUtcNow().ToUnixTimeMilliseconds(), ct);
            }
        }, ct);

        var session = await sessions.FindAsync(sessionId, ct);
        if (session is null)
        {
            return;
        }

        var result = await flashSales.StartAsync(session,
            new StartFlashSaleRequest(product.Id, product.PriceMinor * 70 / 100, options.FlashSaleQuantity, options.FlashSaleSeconds, 1), ct);
        if (result.Result is Created<FlashSale> created)
        {
            logger.LogInformation("Demo show {SessionId}: flash sale {SaleId} of {Quantity} × {Product}", sessionId, created.Value!.Id, options.FlashSaleQuantity, product.Title);
        }
        else
        {
            var problem = (result.Result as ProblemHttpResult)?.ProblemDetails;
            logger.LogInformation("Demo show {SessionId}: no flash sale this round ({Problem})", sessionId, problem?.Title ?? "refused");
        }
    }

    /// <summary>Runs ffmpeg for the show, starting it again (with a pause) if it stops before the server does.</summary>
    private async Task PublishAsync(string key, IReadOnlyList<Product> products, CancellationToken ct)
    {
        var host = rtmpListen.Value.ParsedAddress is { } address && !address.Equals(IPAddress.Any) && !address.Equals(IPAddress.IPv6Any) ? address.ToString() : "127.0.0.1";
        var url = $"rtmp://{(host.Contains(':', StringComparison.Ordinal) ? $"[{host}]" : host)}:{rtmp.Port}/live/{key}";
        while (!ct.IsCancellationRequested)
        {
            var start = new ProcessStartInfo(FindExecutable(live.Value.FfmpegPath)!)
            {
                UseShellExecute = false,
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                RedirectStandardError = true,
            };
            foreach (var argument in Arguments(products, url))
            {
                start.ArgumentList.Add(argument);
            }

            var process = Process.Start(start)!;
            Interlocked.Exchange(ref _ffmpeg, process)?.Dispose();
            _ = process.StandardOutput.ReadToEndAsync(CancellationToken.None);
            var stderr = process.StandardError.ReadToEndAsync(CancellationToken.None);
            try
            {
                await process.WaitForExitAsync(ct);
                var output = await stderr;
                logger.LogWarning("Demo show: ffmpeg exited with {ExitCode} ({Output}); starting it again in 5 s", process.ExitCode, output.Trim());
                await Task.Delay(TimeSpan.FromSeconds(5), time, ct);
            }
            catch (OperationCanceledException)
            {
                break;
            }
        }
    }

    /// <summary>
    /// A generated vertical picture and a soft tone, with the show's product names scrolling across its lower part,
    /// encoded as a phone would publish it (H.264 + AAC over RTMP).
    /// </summary>
    internal static IReadOnlyList<string> Arguments(IReadOnlyList<Product> products, string url)
    {
        var inv = CultureInfo.InvariantCulture;
        var ticker = string.Join("   •   ", products.Select(p => string.Create(inv, $"{Safe(p.Title)} {p.Currency} {p.PriceMinor / 100m:0.00}")));
        var gop = (2 * FrameRate).ToString(inv);
        return
        [
            "-hide_banner", "-loglevel", "error", "-re",
            "-f", "lavfi", "-i", string.Create(inv, $"testsrc2=size={PictureSize}:rate={FrameRate}"),
            "-f", "lavfi", "-i", "sine=frequency=330:sample_rate=44100",
            "-vf", $"drawtext=text='{ticker}':fontsize=30:fontcolor=white:box=1:boxcolor=black@0.6:boxborderw=10:x=w-mod(t*90\\,w+tw):y=h*0.58,"
                + "drawtext=text='Pasar demo show':fontsize=26:fontcolor=white:box=1:boxcolor=0xd6336c@0.85:boxborderw=8:x=(w-tw)/2:y=h*0.16",
            "-af", "volume=0.08",
            "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p", "-g", gop, "-keyint_min", gop,
            "-b:v", "900k", "-maxrate", "1000k", "-bufsize", "2000k",
            "-c:a", "aac", "-b:a", "64k", "-ar", "44100",
            "-f", "flv", url,
        ];
    }

    /// <summary>Only characters drawtext takes literally inside quotes.</summary>
    private static string Safe(string text)
    {
        var safe = new StringBuilder(text.Length);
        foreach (var ch in text)
        {
            safe.Append(char.IsLetterOrDigit(ch) || ch is ' ' or '-' or '.' or '&' or '+' or '/' or '(' or ')' or '!' or '?' ? ch : ' ');
        }

        return safe.ToString();
    }

    /// <summary>Stops ffmpeg and waits for it: no process outlives the server.</summary>
    private void StopFfmpeg()
    {
        var process = Interlocked.Exchange(ref _ffmpeg, null);
        if (process is null)
        {
            return;
        }

        try
        {
            if (!process.HasExited)
            {
                // "q" on its input makes ffmpeg finish the stream and unpublish; a kill if it does not within 3 s.
                try
                {
                    process.StandardInput.Write('q');
                    process.StandardInput.Flush();
                }
                catch (IOException)
                {
                }

                if (!process.WaitForExit(3_000))
                {
                    process.Kill(entireProcessTree: true);
                    process.WaitForExit(5_000);
                }
            }
        }
        catch (InvalidOperationException)
        {
        }
        finally
        {
            process.Dispose();
        }
    }
}
