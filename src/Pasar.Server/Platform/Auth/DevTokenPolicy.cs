using System.Net;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace Pasar.Server.Platform.Auth;

/// <summary>
/// Whether <c>POST /api/dev/tokens</c> issues tokens (SPEC §17): when <c>Pasar:Auth:DevTokens=true</c> is set, or,
/// when it is not set, in the embedded mode with the <c>Development</c> environment while every HTTP address the
/// server bound is loopback. The addresses are only known once Kestrel has started, so the route is mapped by the
/// settings and each request is checked against the bound addresses (and its own client address) as well;
/// before the check has run, the answer is no.
/// </summary>
internal sealed class DevTokenPolicy(
    IOptions<PasarOptions> options, IHostEnvironment environment, IServer server, IEnumerable<INonHttpListener> otherProtocols, ILogger<DevTokenPolicy> logger)
    : IHostedLifecycleService
{
    private volatile bool _boundToLoopbackOnly;

    /// <summary>Set explicitly: tokens for anyone who reaches the server, whatever its address.</summary>
    public bool ForcedOn => options.Value.Auth.DevTokens == true;

    /// <summary>Whether the route exists at all; false answers 404 because nothing is mapped.</summary>
    public bool Mapped => ForcedOn || (options.Value.Auth.DevTokens is null && options.Value.IsEmbedded && environment.IsDevelopment());

    /// <summary>Whether this request may have a dev token.</summary>
    public bool Allows(HttpContext context) =>
        ForcedOn || (Mapped && _boundToLoopbackOnly && context.Connection.RemoteIpAddress is { } client && IPAddress.IsLoopback(client));

    /// <summary>One line for the start log: whether tokens are issued here, and why.</summary>
    internal string Describe(IReadOnlyCollection<string> addresses)
    {
        var auth = options.Value.Auth;
        if (ForcedOn)
        {
            return "Dev tokens are ON: Pasar:Auth:DevTokens=true, so anyone who can reach this server can mint any token, admin included";
        }

        if (auth.DevTokens == false)
        {
            return "Dev tokens are off: Pasar:Auth:DevTokens=false";
        }

        if (!options.Value.IsEmbedded)
        {
            return "Dev tokens are off: not the embedded mode (PostgreSQL or an external Redis is configured)";
        }

        if (!environment.IsDevelopment())
        {
            return $"Dev tokens are off: environment is {environment.EnvironmentName}, not Development";
        }

        return AllLoopback(addresses)
            ? $"Dev tokens are ON: Development environment, embedded mode, bound to loopback only ({string.Join(", ", addresses)})"
            : $"Dev tokens are off: not bound to loopback only ({string.Join(", ", addresses)})";
    }

    internal static bool AllLoopback(IReadOnlyCollection<string> addresses) =>
        addresses.Count > 0 && addresses.All(IsLoopback);

    private static bool IsLoopback(string address)
    {
        string host;
        try
        {
            host = BindingAddress.Parse(address).Host;
        }
        catch (FormatException)
        {
            return false;
        }

        // "localhost" is what Kestrel reports for a localhost URL, which it binds to 127.0.0.1 and ::1 only;
        // "*", "+", "0.0.0.0" and "[::]" are every interface.
        if (string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase))
        {
            return true;
        }

        return IPAddress.TryParse(host.Trim('[', ']'), out var ip) && IPAddress.IsLoopback(ip);
    }

    public Task StartedAsync(CancellationToken cancellationToken)
    {
        // Kestrel has bound by now (the web host starts before the Started callbacks), so these are the real addresses.
        var others = otherProtocols.Select(l => l.Port).ToHashSet();
        var addresses = (server.Features.Get<IServerAddressesFeature>()?.Addresses ?? [])
            .Where(a => !others.Contains(PortOf(a)))
            .ToArray();
        _boundToLoopbackOnly = AllLoopback(addresses);
        var line = Describe(addresses);
        if (ForcedOn)
        {
            logger.LogWarning("{DevTokens}", line);
        }
        else
        {
            logger.LogInformation("{DevTokens}", line);
        }

        return Task.CompletedTask;
    }

    private static int PortOf(string address)
    {
        try
        {
            return BindingAddress.Parse(address).Port;
        }
        catch (FormatException)
        {
            return -1;
        }
    }

    public Task StartingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StartAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppingAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    public Task StoppedAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
