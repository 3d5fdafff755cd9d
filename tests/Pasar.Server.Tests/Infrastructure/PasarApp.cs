using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Dapper;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Pasar.Server.Platform.Storage;
using Pasar.Testing;

namespace Pasar.Server.Tests.Infrastructure;

/// <summary>
/// A whole Pasar server on a real Kestrel loopback port, with its own data folder, database and key prefix,
/// so that tests are independent and can run in any order and in parallel.
/// </summary>
public sealed class PasarApp : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly string _dataDir;

    private PasarApp(WebApplication app, string dataDir, Backend backend, Dictionary<string, string?> settings)
    {
        _app = app;
        _dataDir = dataDir;
        Backend = backend;
        Settings = settings;
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        BaseAddress = new Uri(address);
        Client = NewClient();
    }

    public Backend Backend { get; }
    public Uri BaseAddress { get; }
    public HttpClient Client { get; }
    public IServiceProvider Services => _app.Services;
    public IReadOnlyDictionary<string, string?> Settings { get; }

    /// <summary>Set before disposing to start the same server again on its data (<c>restart: true</c>).</summary>
    public bool KeepDataOnDispose { get; set; }

    public static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    /// <summary>The settings a test app of <paramref name="backend"/> runs with; a second node can share them.</summary>
    public static async Task<Dictionary<string, string?>> SettingsForAsync(Backend backend, string dataDir)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Pasar:DataDir"] = dataDir,
            ["Pasar:Auth:DevTokens"] = "true",
            ["Pasar:Auth:SigningKey"] = "pasar-tests-signing-key-0123456789abcdef",
            ["Pasar:Demo:Seed"] = "false",
            ["Pasar:Demo:LiveShow"] = "false",
            ["Pasar:Redis:KeyPrefix"] = $"t{Guid.NewGuid():N}:",
            ["Pasar:Rtmp:Port"] = "0",
            // One client address loads the whole server here; the tests of the limits turn them back on.
            ["Pasar:RateLimits:Enabled"] = "false",
            ["Logging:LogLevel:Default"] = "Warning",
        };
        if (backend == Backend.Scaled)
        {
            var servers = ExternalServers.Current;
            servers.RequireScaled();
            settings["Pasar:Database:Provider"] = "Postgres";
            settings["Pasar:Database:ConnectionString"] = await servers.Postgres!.CreateDatabaseAsync();
            settings["Pasar:Redis:ConnectionString"] = servers.Redis!.ConnectionString;
        }

        return settings;
    }

    public static async Task<PasarApp> StartAsync(
        Backend backend,
        Action<Dictionary<string, string?>>? configure = null,
        Action<IServiceCollection>? services = null,
        Dictionary<string, string?>? shareSettings = null,
        bool restart = false)
    {
        // A restart reuses the settings of the app before it (same data folder, database and key prefix).
        var dataDir = restart ? shareSettings!["Pasar:DataDir"]! : Path.Combine(Path.GetTempPath(), "pasar-test-" + Guid.NewGuid().ToString("N")[..10]);
        var settings = shareSettings is null ? await SettingsForAsync(backend, dataDir) : new Dictionary<string, string?>(shareSettings) { ["Pasar:DataDir"] = dataDir };
        configure?.Invoke(settings);
        // Settings go in as command-line configuration, so that they are there while modules register
        // (some choices, like SignalR's Redis backplane, are made at registration).
        var args = new List<string> { "--urls=http://127.0.0.1:0", "--environment=Testing" };
        args.AddRange(settings.Where(kv => kv.Value is not null).Select(kv => $"--{kv.Key}={kv.Value}"));
        var app = PasarHost.Build(args.ToArray(), builder =>
        {
            if (services is not null)
            {
                services(builder.Services);
            }
        });
        await app.StartAsync(TestContext.Current.CancellationToken);
        return new PasarApp(app, dataDir, backend, settings);
    }

    public HttpClient NewClient() => new() { BaseAddress = BaseAddress, Timeout = TimeSpan.FromSeconds(100) };

    public async Task<string> TokenAsync(string userId, string role, string? name = null)
    {
        var response = await Client.PostAsJsonAsync("/api/dev/tokens", new { userId, role, name });
        response.EnsureSuccessStatusCode();
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return body.GetProperty("token").GetString()!;
    }

    /// <summary>A client signed in as <paramref name="userId"/>.</summary>
    public async Task<HttpClient> ClientAsAsync(string userId, string role, string? name = null)
    {
        var client = NewClient();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", await TokenAsync(userId, role, name));
        return client;
    }

    /// <summary>
    /// A direct handle on the database that <paramref name="settings"/> name, for a test that runs the server
    /// as a process (and kills it) and then checks what SQL holds.
    /// </summary>
    internal static Database DatabaseFor(IReadOnlyDictionary<string, string?> settings) =>
        new(Microsoft.Extensions.Options.Options.Create(
            new ConfigurationBuilder().AddInMemoryCollection(settings).Build().GetSection(Pasar.Server.Platform.PasarOptions.Section).Get<Pasar.Server.Platform.PasarOptions>()!));

    /// <summary>Runs a query against this app's own database, for asserting what was (or was not) written.</summary>
    public async Task<T> ScalarAsync<T>(string sql, object? args = null)
    {
        var db = Services.GetRequiredService<Database>();
        await using var c = await db.OpenAsync(CancellationToken.None);
        return (await c.ExecuteScalarAsync<T>(sql, args))!;
    }

    public async Task<IReadOnlyList<T>> QueryAsync<T>(string sql, object? args = null)
    {
        var db = Services.GetRequiredService<Database>();
        await using var c = await db.OpenAsync(CancellationToken.None);
        return (await c.QueryAsync<T>(sql, args)).AsList();
    }

    /// <summary>Waits until <paramref name="condition"/> holds, or fails the test after <paramref name="timeout"/>.</summary>
    public static async Task EventuallyAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (await condition())
            {
                return;
            }

            await Task.Delay(50);
        }

        Assert.Fail($"Timed out after {timeout.TotalSeconds} s waiting for: {what}");
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync(CancellationToken.None);
        await _app.DisposeAsync();
        if (!KeepDataOnDispose)
        {
            try
            {
                Directory.Delete(_dataDir, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
