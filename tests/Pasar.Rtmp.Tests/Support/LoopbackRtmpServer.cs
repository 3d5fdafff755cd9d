using System.IO.Pipelines;
using System.Net;
using System.Net.Sockets;

namespace Pasar.Rtmp.Tests.Support;

/// <summary>A TCP listener on a loopback port that runs an <see cref="RtmpConnection"/> per accepted socket.</summary>
internal sealed class LoopbackRtmpServer : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly List<Task<RtmpConnectionResult>> _connections = [];
    private readonly Task _acceptLoop;

    public LoopbackRtmpServer(RecordingHost host, RtmpServerOptions? options = null)
    {
        _listener.Start();
        _acceptLoop = AcceptAsync(host, options);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public Task<RtmpConnectionResult> FirstConnection
    {
        get
        {
            lock (_connections)
            {
                return _connections.Count > 0 ? _connections[0] : Task.FromException<RtmpConnectionResult>(new InvalidOperationException("No connection was accepted."));
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        try
        {
            await _acceptLoop;
        }
        catch (Exception ex) when (ex is OperationCanceledException or SocketException or ObjectDisposedException)
        {
            // Stopping.
        }

        Task[] running;
        lock (_connections)
        {
            running = [.. _connections];
        }

        await Task.WhenAll(running).WaitAsync(TimeSpan.FromSeconds(10));
        _stop.Dispose();
    }

    private async Task AcceptAsync(RecordingHost host, RtmpServerOptions? options)
    {
        while (!_stop.IsCancellationRequested)
        {
            var socket = await _listener.AcceptSocketAsync(_stop.Token);
            lock (_connections)
            {
                _connections.Add(RunAsync(socket, host, options));
            }
        }
    }

    private async Task<RtmpConnectionResult> RunAsync(Socket socket, RecordingHost host, RtmpServerOptions? options)
    {
        await using var stream = new NetworkStream(socket, ownsSocket: true);
        var transport = new DuplexPipe(PipeReader.Create(stream), PipeWriter.Create(stream));
        await using var connection = new RtmpConnection(transport, host, host, options, remoteEndPoint: socket.RemoteEndPoint);
        return await connection.RunAsync(_stop.Token);
    }
}
