using System.IO.Pipelines;

namespace Pasar.Rtmp.Tests.Support;

internal sealed record DuplexPipe(PipeReader Input, PipeWriter Output) : IDuplexPipe;

/// <summary>Two pipes standing in for a socket: what the client writes the server reads, and back.</summary>
internal sealed class InMemoryTransport
{
    // Unbounded so a test that never reads the server's replies cannot stall the server.
    private static readonly PipeOptions Unbounded = new(pauseWriterThreshold: 0, resumeWriterThreshold: 0, useSynchronizationContext: false);

    public Pipe ClientToServer { get; } = new(Unbounded);

    public Pipe ServerToClient { get; } = new(Unbounded);

    public IDuplexPipe Server => new DuplexPipe(ClientToServer.Reader, ServerToClient.Writer);

    public IDuplexPipe Client => new DuplexPipe(ServerToClient.Reader, ClientToServer.Writer);
}
