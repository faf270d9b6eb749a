using System.Net;
using System.Net.Sockets;

namespace RateLimiting.Redis.Tests.Infrastructure.FaultProxy;

/// <summary>One upstream socket of a <see cref="ProxyConnection"/>; a re-pointed connection gets a new route.</summary>
internal sealed class UpstreamRoute
{
    private readonly TaskCompletionSource<bool> _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public UpstreamRoute(int upstreamIndex, IPEndPoint endPoint)
    {
        UpstreamIndex = upstreamIndex;
        EndPoint = endPoint;
        Socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
    }

    public int UpstreamIndex { get; }

    public IPEndPoint EndPoint { get; }

    public Socket Socket { get; }

    /// <summary>Completes with <see langword="true"/> once connected, <see langword="false"/> if the route ended first.</summary>
    public Task<bool> Connected => _connected.Task;

    public void MarkConnected() => _connected.TrySetResult(true);

    public void MarkEnded() => _connected.TrySetResult(false);

    /// <summary>Closes the socket, which ends the pump; idempotent.</summary>
    public void Close()
    {
        MarkEnded();
        Socket.Dispose();
    }
}
