using System.Collections.Concurrent;
using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Pasar.Server.Tests.Infrastructure;

namespace Pasar.Server.Tests.Platform;

/// <summary>
/// SPEC §17: dev tokens only when <c>Pasar:Auth:DevTokens=true</c>, or in the embedded mode in Development while
/// bound to loopback only; otherwise <c>POST /api/dev/tokens</c> is 404, and the start log says which and why.
/// </summary>
public sealed class DevTokenTests
{
    private static StringContent AdminRequest => new("""{"userId":"intruder","role":"admin"}""", Encoding.UTF8, "application/json");

    [Theory]
    [MemberData(nameof(Backends.All), MemberType = typeof(Backends))]
    public async Task A_production_server_answers_dev_tokens_with_404_even_with_a_configured_signing_key(Backend backend)
    {
        var log = new StartLog();
        await using var app = await StartAsync(backend, log, "Production", s => Assert.NotNull(s["Pasar:Auth:SigningKey"]));

        var response = await app.Client.PostAsync("/api/dev/tokens", AdminRequest, TestContext.Current.CancellationToken);

        await response.AssertProblemAsync(HttpStatusCode.NotFound, "NOT_FOUND");
        Assert.Contains(backend == Backend.Embedded ? "Dev tokens are off: environment is Production" : "Dev tokens are off: not the embedded mode", log.DevTokenLine());
        Assert.False((await app.Client.GetFromJsonAsync<JsonElement>("/api/auth/config", TestContext.Current.CancellationToken)).GetProperty("devTokens").GetBoolean());
    }

    [Fact]
    public async Task A_production_embedded_server_with_its_own_key_file_answers_dev_tokens_with_404()
    {
        var log = new StartLog();
        await using var app = await StartAsync(Backend.Embedded, log, "Production", s => s.Remove("Pasar:Auth:SigningKey"));

        var response = await app.Client.PostAsync("/api/dev/tokens", AdminRequest, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("Dev tokens are off: environment is Production", log.DevTokenLine());
    }

    [Fact]
    public async Task Development_on_loopback_issues_dev_tokens_and_says_so()
    {
        var log = new StartLog();
        await using var app = await StartAsync(Backend.Embedded, log, "Development");

        var response = await app.Client.PostAsJsonAsync("/api/dev/tokens", new { userId = "demo-1", role = "buyer" }, TestContext.Current.CancellationToken);

        Assert.True(response.StatusCode == HttpStatusCode.OK, log.DevTokenLine());
        Assert.Contains("Dev tokens are ON: Development environment, embedded mode, bound to loopback only", log.DevTokenLine());
        Assert.True((await app.Client.GetFromJsonAsync<JsonElement>("/api/auth/config", TestContext.Current.CancellationToken)).GetProperty("devTokens").GetBoolean());
    }

    [Fact]
    public async Task Development_bound_to_every_interface_answers_dev_tokens_with_404()
    {
        var log = new StartLog();
        await using var app = await StartAsync(Backend.Embedded, log, "Development", s => s["urls"] = "http://0.0.0.0:0");
        using var client = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{app.BaseAddress.Port}") };

        var response = await client.PostAsync("/api/dev/tokens", AdminRequest, TestContext.Current.CancellationToken);

        await response.AssertProblemAsync(HttpStatusCode.NotFound, "NOT_FOUND");
        Assert.Contains("Dev tokens are off: not bound to loopback only (http://0.0.0.0:", log.DevTokenLine());
    }

    [Fact]
    public async Task Development_on_postgres_answers_dev_tokens_with_404()
    {
        var log = new StartLog();
        await using var app = await StartAsync(Backend.Scaled, log, "Development");

        var response = await app.Client.PostAsync("/api/dev/tokens", AdminRequest, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("Dev tokens are off: not the embedded mode", log.DevTokenLine());
    }

    [Fact]
    public async Task DevTokens_false_turns_them_off_in_development_on_loopback()
    {
        var log = new StartLog();
        await using var app = await StartAsync(Backend.Embedded, log, "Development", s => s["Pasar:Auth:DevTokens"] = "false");

        var response = await app.Client.PostAsync("/api/dev/tokens", AdminRequest, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Contains("Dev tokens are off: Pasar:Auth:DevTokens=false", log.DevTokenLine());
    }

    [Fact]
    public async Task DevTokens_true_issues_them_in_production_and_warns_in_the_start_log()
    {
        var log = new StartLog();
        await using var app = await StartAsync(Backend.Embedded, log, "Production", s => s["Pasar:Auth:DevTokens"] = "true");

        var response = await app.Client.PostAsJsonAsync("/api/dev/tokens", new { userId = "demo-1", role = "buyer" }, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var line = log.DevTokenLine();
        Assert.Contains("Dev tokens are ON: Pasar:Auth:DevTokens=true", line);
        Assert.Contains(log.Entries, e => e.Level == LogLevel.Warning && e.Message == line);
    }

    /// <summary>A test app with dev tokens left to their default (unless <paramref name="configure"/> sets them) in <paramref name="environment"/>.</summary>
    private static Task<PasarApp> StartAsync(Backend backend, StartLog log, string environment, Action<Dictionary<string, string?>>? configure = null) =>
        PasarApp.StartAsync(backend, s =>
        {
            s.Remove("Pasar:Auth:DevTokens");
            s["environment"] = environment;
            s["Logging:LogLevel:Pasar.Server.Platform.Auth"] = "Information";
            configure?.Invoke(s);
        }, services => services.AddSingleton<ILoggerProvider>(log));
}

/// <summary>Every log entry the app writes, kept for a test to read.</summary>
public sealed class StartLog : ILoggerProvider
{
    private readonly ConcurrentQueue<(string Category, LogLevel Level, string Message)> _entries = new();

    public IReadOnlyCollection<(string Category, LogLevel Level, string Message)> Entries => _entries;

    /// <summary>The one line that says how tokens are issued.</summary>
    public string DevTokenLine()
    {
        var lines = _entries.Where(e => e.Message.StartsWith("Dev tokens are ", StringComparison.Ordinal)).Select(e => e.Message).ToList();
        Assert.True(lines.Count == 1, $"Expected one start-log line about dev tokens, saw {lines.Count}: {string.Join(" | ", lines)}");
        return lines[0];
    }

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(StartLog log, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            log._entries.Enqueue((category, logLevel, formatter(state, exception)));
    }
}
