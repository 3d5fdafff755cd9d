using System.Collections.Concurrent;
using System.Text.Json;
using System.Threading.Channels;
using Microsoft.AspNetCore.SignalR.Client;
using Microsoft.Extensions.DependencyInjection;

namespace Pasar.Server.Tests.Infrastructure;

/// <summary>A live-room client over a real WebSocket, recording every event the server pushes.</summary>
public sealed class RoomClient : IAsyncDisposable
{
    private readonly ConcurrentDictionary<string, Channel<JsonElement>> _events = new();

    private RoomClient(HubConnection connection) => Connection = connection;

    public HubConnection Connection { get; }

    public static readonly string[] Events = ["chat", "chatDeleted", "pinsUpdated", "viewersUpdated", "sessionStatus", "chatSettings",
        "flashSaleStarted", "flashSaleUpdated", "flashSaleEnded", "purchaseSignal", "lowStock", "notification",
        "pollStarted", "pollUpdated", "pollEnded", "giveawayStarted", "giveawayDrawn", "moderatorsChanged", "moderatorStatus", "reactions", "voucherDropped", "voucherUpdated", "auctionStarted", "auctionUpdated", "auctionEnded"];

    public static async Task<RoomClient> ConnectAsync(PasarApp app, string? token = null, string? anonId = null, bool messagePack = false)
    {
        var url = new Uri(app.BaseAddress, "/hubs/live" + (anonId is null ? "" : $"?anonId={anonId}"));
        var builder = new HubConnectionBuilder().WithUrl(url, o =>
        {
            if (token is not null)
            {
                o.AccessTokenProvider = () => Task.FromResult<string?>(token);
            }

            o.Transports = Microsoft.AspNetCore.Http.Connections.HttpTransportType.WebSockets;
            o.SkipNegotiation = true;
        });
        if (messagePack)
        {
            builder.AddMessagePackProtocol();
        }

        var connection = builder.Build();
        var client = new RoomClient(connection);
        foreach (var name in Events)
        {
            var channel = client._events.GetOrAdd(name, _ => Channel.CreateUnbounded<JsonElement>());
            connection.On<object>(name, payload => channel.Writer.TryWrite(payload is JsonElement json ? json : JsonSerializer.SerializeToElement(Normalize(payload))));
        }

        await connection.StartAsync(TestContext.Current.CancellationToken);
        return client;
    }

    public async Task<JsonElement> JoinAsync(string sessionId)
    {
        var snapshot = await Connection.InvokeAsync<object>("JoinSession", sessionId, TestContext.Current.CancellationToken);
        return snapshot is JsonElement json ? json : JsonSerializer.SerializeToElement(Normalize(snapshot));
    }

    /// <summary>
    /// MessagePack payloads arrive as dictionaries and arrays of objects, keyed by the .NET property names
    /// (PascalCase); make them JSON-shaped with camelCase keys so one set of assertions serves both protocols.
    /// </summary>
    private static object? Normalize(object? value) => value switch
    {
        IDictionary<object, object> map => map.ToDictionary(kv => JsonNamingPolicy.CamelCase.ConvertName(kv.Key.ToString()!), kv => Normalize(kv.Value)),
        object[] items => items.Select(Normalize).ToArray(),
        _ => value,
    };

    public Task ChatAsync(string sessionId, string text) => Connection.InvokeAsync("SendChat", sessionId, text, TestContext.Current.CancellationToken);

    /// <summary>The next <paramref name="name"/> event, or a test failure after <paramref name="timeout"/>.</summary>
    public async Task<JsonElement> NextAsync(string name, TimeSpan? timeout = null)
    {
        using var cts = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        cts.CancelAfter(timeout ?? TimeSpan.FromSeconds(10));
        try
        {
            return await _events[name].Reader.ReadAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            Assert.Fail($"No '{name}' event arrived in time");
            throw;
        }
    }

    /// <summary>Reads <paramref name="name"/> events until one satisfies <paramref name="match"/>.</summary>
    public async Task<JsonElement> WaitForAsync(string name, Func<JsonElement, bool> match, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(10));
        while (true)
        {
            var left = deadline - DateTime.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                Assert.Fail($"No matching '{name}' event arrived in time");
            }

            var e = await NextAsync(name, left);
            if (match(e))
            {
                return e;
            }
        }
    }

    public bool TryNext(string name, out JsonElement e) => _events[name].Reader.TryRead(out e);

    public async ValueTask DisposeAsync() => await Connection.DisposeAsync();
}
