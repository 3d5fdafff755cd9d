namespace Pasar.Server.Platform;

/// <summary>
/// A Kestrel endpoint that speaks another protocol (RTMP). Kestrel lists it among the server's addresses as if
/// it were HTTP; whoever reasons about the HTTP addresses (dev tokens: loopback only) leaves it out by its port.
/// </summary>
internal interface INonHttpListener
{
    /// <summary>The port it is bound to, once Kestrel has started.</summary>
    int Port { get; }
}
