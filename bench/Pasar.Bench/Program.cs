using Pasar.Bench;

// Pasar.Bench SCENARIO [--backend embedded|scaled|both] [--concurrency N] [--seconds S]
// Prints a Markdown table: one row per scenario and target, measured in the same run.
// Pasar.Bench flash [--backend embedded,sqlite-redis,scaled] [--generator dotnet,wrk] [--gates Redis,SqlOnly] [--quantity 100]
// Pasar.Bench chat [--viewers 5000,10000] [--chatters 50] [--seconds 20] [--targets pasar,peer] [--stall-viewers 5000] [--server-env K=V,...]
// Pasar.Bench llhls-viewers [--source 1080p60|360p30] [--viewers 500,2000] [--seconds 20] [--warmup 8] [--baseline yes|no] [--ts yes|no] [--held yes|no] [--compare-env K=V,...] [--trace DIR]
// Pasar.Bench chat-memory [--viewers 5000] [--variants default,server-gc,peer] [--gcdump]
var scenario = args.FirstOrDefault(a => !a.StartsWith("--", StringComparison.Ordinal)) ?? "orders";
if (scenario == "analytics")
{
    await AnalyticsScenario.RunAsync(args);
    return;
}

if (scenario == "chat-memory")
{
    await ChatMemoryScenario.RunAsync(args);
    return;
}

if (scenario == "chat")
{
    await ChatScenario.RunAsync(args);
    return;
}

string Option(string name, string fallback)
{
    var i = Array.IndexOf(args, "--" + name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
}

var backend = Option("backend", "both");
var concurrency = int.Parse(Option("concurrency", "32"), System.Globalization.CultureInfo.InvariantCulture);
var duration = TimeSpan.FromSeconds(double.Parse(Option("seconds", "15"), System.Globalization.CultureInfo.InvariantCulture));
var backends = backend == "both" ? new[] { "embedded", "scaled" } : backend.Split(',', StringSplitOptions.RemoveEmptyEntries);
if (scenario == "flash")
{
    // --generator dotnet,wrk: both load generators, one after the other against the same server, each on a fresh sale.
    var generators = Option("generator", "dotnet").Split(',', StringSplitOptions.RemoveEmptyEntries);
    var gates = Option("gates", "Redis,SqlOnly").Split(',', StringSplitOptions.RemoveEmptyEntries);
    Console.WriteLine($"Pasar.Bench flash: {concurrency} concurrent clients, {duration.TotalSeconds} s per target and generator ({string.Join(", ", generators)})");
    Console.WriteLine();
    Console.WriteLine(LoadResult.Header);
    foreach (var b in backends)
    {
        foreach (var gate in gates)
        {
            await using var flashTarget = await BenchTarget.StartAsync(b, new Dictionary<string, string?> { ["Pasar:FlashSales:Gate"] = gate },
                gate == "Redis" ? "Lua gate" : "SQL only (floor)");
            foreach (var result in await FlashScenario.RunAsync(flashTarget, concurrency, duration, int.Parse(Option("quantity", "100"), System.Globalization.CultureInfo.InvariantCulture), generators))
            {
                Console.WriteLine(result.Row);
            }
        }
    }

    return;
}

if (scenario is "voucher" or "auction")
{
    Console.WriteLine($"Pasar.Bench {scenario}: {concurrency} concurrent clients, {duration.TotalSeconds} s per target");
    Console.WriteLine();
    Console.WriteLine(LoadResult.Header);
    var module = scenario == "voucher" ? "Vouchers" : "Auctions";
    foreach (var b in backends)
    {
        foreach (var gate in new[] { "Redis", "SqlOnly" })
        {
            await using var moneyTarget = await BenchTarget.StartAsync(b, new Dictionary<string, string?> { [$"Pasar:{module}:Gate"] = gate },
                gate == "Redis" ? "Lua gate" : "SQL only (floor)");
            var row = scenario == "voucher"
                ? await LiveMoneyScenario.VouchersAsync(moneyTarget, concurrency, duration, int.Parse(Option("quantity", "100000"), System.Globalization.CultureInfo.InvariantCulture))
                : await LiveMoneyScenario.BidsAsync(moneyTarget, concurrency, duration);
            Console.WriteLine(row.Row);
        }
    }

    return;
}

if (scenario == "reminders")
{
    // Time from a show's reminder falling due to all of its subscribers' notifications committed.
    await ReminderScenario.RunAsync(backends, int.Parse(Option("subscribers", "100000"), System.Globalization.CultureInfo.InvariantCulture));
    return;
}

if (scenario == "llhls-cpu")
{
    // --warmup N: the window starts N s after publishing and lasts --seconds (a server past its start-up JIT).
    if (args.Contains("--warmup"))
    {
        IngestScenario.Warmup = TimeSpan.FromSeconds(double.Parse(Option("warmup", "15"), System.Globalization.CultureInfo.InvariantCulture));
        duration += IngestScenario.Warmup.Value;
    }

    await IngestScenario.RunLowLatencyCpuAsync(duration);
    return;
}

if (scenario == "llhls-ladder")
{
    // Default-ladder 1080p60 streams held live: every rendition through the CMAF packager against ffmpeg's TS muxer.
    await IngestScenario.RunLadderAsync(duration, int.Parse(Option("max-streams", "6"), System.Globalization.CultureInfo.InvariantCulture));
    return;
}

if (scenario == "llhls-viewers")
{
    // N simulated LL-HLS viewers on one passthrough show: blocking reloads and parts, against TS polling in the same run.
    await LlHlsViewersScenario.RunAsync(Option("source", "1080p60"), [.. Option("viewers", "500,2000").Split(',').Select(n => int.Parse(n, System.Globalization.CultureInfo.InvariantCulture))],
        duration, TimeSpan.FromSeconds(double.Parse(Option("warmup", "8"), System.Globalization.CultureInfo.InvariantCulture)), Option("baseline", "yes") == "yes", Option("ts", "yes") == "yes", Option("held", "yes") == "yes",
        Option("compare-env", "").Split(',', StringSplitOptions.RemoveEmptyEntries).Select(kv => kv.Split('=', 2)).ToDictionary(kv => kv[0], kv => (string?)kv[1], StringComparer.Ordinal),
        args.Contains("--trace") ? Option("trace", "") : null);
    return;
}

if (scenario == "forward")
{
    // Forwarded playback cost: LL-HLS viewers on the ingest node against the same viewers on a node that forwards (ADR 0025).
    await ForwardScenario.RunAsync(int.Parse(Option("viewers", "500"), System.Globalization.CultureInfo.InvariantCulture), duration);
    return;
}

if (scenario == "llhls-latency")
{
    await GlassToGlassScenario.RunAsync(duration);
    return;
}

if (scenario == "upload")
{
    // Recording uploads into a real Swift: throughput and lag behind live, 1 and 3 shows with the full ladder.
    await UploadScenario.RunAsync(duration, [.. Option("shows", "1,3").Split(',').Select(n => int.Parse(n, System.Globalization.CultureInfo.InvariantCulture))],
        Option("ladder", "480p30,360p30"), TimeSpan.FromSeconds(double.Parse(Option("outage", "0"), System.Globalization.CultureInfo.InvariantCulture)));
    return;
}

if (scenario == "ingest")
{
    // Live ingest has its own shape: streams instead of requests, Pasar and nginx-rtmp side by side.
    await IngestScenario.RunAsync(duration, int.Parse(Option("max-streams", "6"), System.Globalization.CultureInfo.InvariantCulture));
    return;
}

Console.WriteLine($"Pasar.Bench {scenario}: {concurrency} concurrent clients, {duration.TotalSeconds} s per target, {Environment.ProcessorCount} cores, " +
    $"{GC.GetGCMemoryInfo().TotalAvailableMemoryBytes / (1L << 30)} GiB");
Console.WriteLine();
Console.WriteLine(LoadResult.Header);
foreach (var b in backends)
{
    await using var target = await BenchTarget.StartAsync(b);
    if (scenario == "fanout")
    {
        foreach (var row in await SocialScenarios.FanoutAsync(target, concurrency, duration))
        {
            Console.WriteLine(row.Row);
        }

        continue;
    }

    var result = scenario switch
    {
        "orders" => await OrdersScenario.RunAsync(target, concurrency, duration),
        "check-ins" => await DailyScenarios.CheckInsAsync(target, concurrency, duration),
        "shakes" => await DailyScenarios.ShakesAsync(target, concurrency, duration),
        "feed" => await SocialScenarios.FeedAsync(target, concurrency, duration),
        "polls" => await PollScenario.RunAsync(target, concurrency, duration),
        _ => throw new ArgumentException($"Unknown scenario '{scenario}'. Known: orders, check-ins, shakes, feed, fanout, reminders, polls, flash, ingest, upload, llhls-cpu, llhls-ladder, llhls-latency, llhls-viewers, forward, chat, chat-memory."),
    };
    Console.WriteLine(result.Row);
}
