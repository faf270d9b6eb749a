using System.Net;
using System.Net.Sockets;

namespace RateLimiting.Redis.Tests.Infrastructure.FaultProxy;

/// <summary>One upstream socket of a <see cref="ProxyConnection"/>; a re-pointed connection gets a new route.</summary>
internal sealed class UpstreamRoute
{
    private readonly TaskCompletionSource<bool> _connected = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private volatile Stream? _stream;

    public UpstreamRoute(int upstreamIndex, IPEndPoint endPoint, bool authenticate = false)
    {
        UpstreamIndex = upstreamIndex;
        Authenticate = authenticate;
        EndPoint = endPoint;
        Socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
    }

    public int UpstreamIndex { get; }

    public IPEndPoint EndPoint { get; }

    public Socket Socket { get; }

    /// <summary>Whether the proxy authenticates this route itself (with <see cref="ProxyTls.Password"/>): a re-pointed connection's.</summary>
    public bool Authenticate { get; }

    /// <summary>The stream over <see cref="Socket"/> (TLS with <see cref="ProxyTls"/>); set before <see cref="MarkConnected"/>.</summary>
    public Stream? Stream
    {
        get => _stream;
        set => _stream = value;
    }

    /// <summary>Completes with <see langword="true"/> once connected, <see langword="false"/> if the route ended first.</summary>
    public Task<bool> Connected => _connected.Task;

    public void MarkConnected() => _connected.TrySetResult(true);

    public void MarkEnded() => _connected.TrySetResult(false);

    /// <summary>Closes the socket, which ends the pump; idempotent.</summary>
    public void Close()
    {
        MarkEnded();
        Socket.Dispose();
        _stream?.Dispose();
    }
}
