using System.Net;
using Microsoft.Extensions.Options;
using Pasar.Rtmp;

namespace Pasar.Server.Live;

/// <summary>
/// How many RTMP connections this node holds, and how long one may take to start publishing (<c>Pasar:Rtmp</c>,
/// SPEC §17). A connection is a socket and a chunk-stream reader before it has proved it holds a stream key, so
/// both are capped: a host that opens hundreds of connections, or trickles a byte at a time, takes no more than
/// its share and cannot starve the publishers.
/// </summary>
internal sealed class RtmpLimitsOptions
{
    /// <summary>Connections open at once on this node, publishing or not. Default 200.</summary>
    public int MaxConnections { get; set; } = 200;

    /// <summary>Connections open at once from one client address. Default 8 (an encoder, its reconnect, a few more behind one NAT).</summary>
    public int MaxConnectionsPerAddress { get; set; } = 8;

    /// <summary>Seconds from accept to an authorised publish before the connection is closed. Default 10.</summary>
    public int PublishDeadlineSeconds { get; set; } = 10;
}

internal static class RtmpLimits
{
    public static IServiceCollection AddRtmpLimits(this IServiceCollection services)
    {
        services.AddOptions<RtmpLimitsOptions>().BindConfiguration(RtmpListenOptions.Section)
            .Validate(o => o.MaxConnections is >= 1 and <= 100_000, "Pasar:Rtmp:MaxConnections must be between 1 and 100000.")
            .Validate(o => o.MaxConnectionsPerAddress >= 1 && o.MaxConnectionsPerAddress <= o.MaxConnections, "Pasar:Rtmp:MaxConnectionsPerAddress must be between 1 and Pasar:Rtmp:MaxConnections.")
            .Validate(o => o.PublishDeadlineSeconds is >= 1 and <= 600, "Pasar:Rtmp:PublishDeadlineSeconds must be between 1 and 600.")
            .ValidateOnStart();
        services.AddOptions<RtmpServerOptions>().PostConfigure<IOptions<RtmpLimitsOptions>>((rtmp, limits) =>
            rtmp.PublishDeadline = TimeSpan.FromSeconds(limits.Value.PublishDeadlineSeconds));
        services.AddSingleton<RtmpConnectionGate>();
        return services;
    }
}

/// <summary>Admits an RTMP connection within the total and per-address caps; every admission is paired with <see cref="Leave"/>.</summary>
internal sealed class RtmpConnectionGate(IOptions<RtmpLimitsOptions> options)
{
    private readonly Dictionary<IPAddress, int> _perAddress = [];
    private readonly Lock _gate = new();
    private int _total;

    /// <summary>Connections admitted and not yet left.</summary>
    public int Open
    {
        get
        {
            lock (_gate)
            {
                return _total;
            }
        }
    }

    /// <summary>Addresses with a connection open (for tests and bounds: an address leaves with its last connection).</summary>
    public int Addresses
    {
        get
        {
            lock (_gate)
            {
                return _perAddress.Count;
            }
        }
    }

    /// <summary>Admits a connection from <paramref name="address"/>, or says which cap it is over.</summary>
    public bool TryEnter(IPAddress? address, out string refusal)
    {
        var limits = options.Value;
        var key = Normalize(address);
        lock (_gate)
        {
            if (_total >= limits.MaxConnections)
            {
                refusal = $"{limits.MaxConnections} RTMP connections are open on this node (Pasar:Rtmp:MaxConnections)";
                return false;
            }

            var count = _perAddress.GetValueOrDefault(key);
            if (count >= limits.MaxConnectionsPerAddress)
            {
                refusal = $"{limits.MaxConnectionsPerAddress} RTMP connections are open from this address (Pasar:Rtmp:MaxConnectionsPerAddress)";
                return false;
            }

            _perAddress[key] = count + 1;
            _total++;
            refusal = "";
            return true;
        }
    }

    public void Leave(IPAddress? address)
    {
        var key = Normalize(address);
        lock (_gate)
        {
            _total--;
            if (_perAddress.TryGetValue(key, out var count) && count > 1)
            {
                _perAddress[key] = count - 1;
            }
            else
            {
                _perAddress.Remove(key);
            }
        }
    }

    // An IPv4 client seen on a dual-stack socket is the same client as on an IPv4 one.
    private static IPAddress Normalize(IPAddress? address) =>
        address is null ? IPAddress.None : address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
}
