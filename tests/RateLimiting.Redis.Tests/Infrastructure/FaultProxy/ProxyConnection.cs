using System.Net;
using System.Net.Sockets;

namespace RateLimiting.Redis.Tests.Infrastructure.FaultProxy;

/// <summary>
/// One client connection accepted by <see cref="RedisFaultProxy"/> and the upstream route it is
/// currently forwarded to. The client socket outlives its routes: <see cref="RouteTo"/> swaps the
/// upstream underneath a client that keeps talking.
/// </summary>
/// <remarks>
/// Pumps: one client-to-upstream loop for the life of the connection (<see cref="RunAsync"/>),
/// and one upstream-to-client loop per route. Every pump catches its own exceptions; a failure of
/// the client or of the current route closes the pair, a failure of a replaced route does not.
/// With <see cref="ProxyTls"/>, both sides are TLS streams the proxy terminates, and every route
/// but the first authenticates itself (the client did so on its first route only).
/// </remarks>
internal sealed class ProxyConnection
{
    private const int BufferSize = 16 * 1024;
    private static readonly TimeSpan ConnectTimeout = TimeSpan.FromSeconds(5);

    private readonly Socket _client;
    private readonly IReadOnlyList<IPEndPoint> _upstreams;
    private readonly ProxyTls? _tls;
    private readonly NetworkStream _clientNetwork;

    // The stream client bytes come from and replies go to: the socket's, or TLS on it once the handshake is done.
    private readonly TaskCompletionSource<Stream> _clientStream = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _lifetime = new();

    // Serializes writes to the client: an old and a new route may both be delivering during a swap.
    // Never disposed: a waiter may still be queued when the connection closes, and it owns no handle.
    private readonly SemaphoreSlim _clientWriteGate = new(1, 1);
    private readonly Lock _sync = new();
    private readonly List<Task> _routePumps = [];

    private UpstreamRoute? _route; // written under _sync, read with Volatile.Read
    private volatile bool _blackHoled;
    private bool _closed; // guarded by _sync

    public ProxyConnection(Socket client, int listenIndex, IReadOnlyList<IPEndPoint> upstreams, ProxyTls? tls = null)
    {
        _client = client;
        _clientNetwork = new NetworkStream(client, ownsSocket: true);
        _tls = tls;
        if (tls is null)
        {
            _clientStream.SetResult(_clientNetwork);
        }

        try
        {
            _client.NoDelay = true;
        }
        catch (SocketException)
        {
            // The client already reset: the client pump finds out and ends the connection.
        }

        ListenIndex = listenIndex;
        _upstreams = upstreams;
    }

    public int ListenIndex { get; }

    public bool IsBlackHoled => _blackHoled;

    /// <summary>The upstream this connection forwards to, or <see langword="null"/> if it never had one.</summary>
    public int? UpstreamIndex => Volatile.Read(ref _route)?.UpstreamIndex;

    /// <summary>
    /// Points the connection at <paramref name="upstreamIndex"/>: the old upstream socket is closed,
    /// a new one is opened, and every client byte read from now on goes to the new one.
    /// </summary>
    public void RouteTo(int upstreamIndex)
    {
        UpstreamRoute? old;
        lock (_sync)
        {
            if (_closed || _route?.UpstreamIndex == upstreamIndex)
            {
                return;
            }

            old = _route;
            var route = new UpstreamRoute(upstreamIndex, _upstreams[upstreamIndex], authenticate: old is not null);
            Volatile.Write(ref _route, route);
            _routePumps.Add(Task.Run(() => PumpUpstreamAsync(route)));
        }

        old?.Close();
    }

    /// <summary>Stops forwarding in both directions; client bytes are read and dropped, sockets stay open.</summary>
    public void BlackHole() => _blackHoled = true;

    /// <summary>Closes the client socket and the current route; idempotent and never throws.</summary>
    public void Close()
    {
        UpstreamRoute? route;
        lock (_sync)
        {
            if (_closed)
            {
                return;
            }

            _closed = true;
            route = _route;
        }

        try
        {
            _lifetime.Cancel();
        }
        catch (AggregateException)
        {
            // A cancellation callback threw; the sockets below are closed regardless.
        }

        _clientStream.TrySetCanceled(); // a TLS handshake that never finished: no reply waits for it
        _client.Dispose();
        route?.Close();
    }

    /// <summary>Forwards client bytes until either side ends; completes once every pump of the connection has ended.</summary>
    public async Task RunAsync()
    {
        var buffer = new byte[BufferSize];
        try
        {
            if (_tls is not null)
            {
                using var handshake = CancellationTokenSource.CreateLinkedTokenSource(_lifetime.Token);
                handshake.CancelAfter(ConnectTimeout);
                var tls = await _tls.AuthenticateClientAsync(_clientNetwork, handshake.Token).ConfigureAwait(false);
                if (!_clientStream.TrySetResult(tls))
                {
                    await tls.DisposeAsync().ConfigureAwait(false); // closed meanwhile
                }
            }

            var client = await _clientStream.Task.ConfigureAwait(false);
            while (true)
            {
                var read = await client.ReadAsync(buffer, _lifetime.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                if (_blackHoled)
                {
                    continue;
                }

                if (!await ForwardToUpstreamAsync(buffer.AsMemory(0, read)).ConfigureAwait(false))
                {
                    break;
                }
            }
        }
#pragma warning disable CA1031 // A pump ends its own connection on any failure and never faults.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
        finally
        {
            Close();
        }

        Task[] pumps;
        lock (_sync)
        {
            pumps = [.. _routePumps]; // no route is added once closed
        }

        await Task.WhenAll(pumps).ConfigureAwait(false); // route pumps never fault
        if (_clientStream.Task.IsCompletedSuccessfully)
        {
            await _clientStream.Task.Result.DisposeAsync().ConfigureAwait(false);
        }

        _lifetime.Dispose();
    }

    /// <returns><see langword="false"/> if the connection must end.</returns>
    private async Task<bool> ForwardToUpstreamAsync(ReadOnlyMemory<byte> data)
    {
        while (true)
        {
            var route = Volatile.Read(ref _route);
            if (route is null || _blackHoled)
            {
                return true; // nowhere to send to: drop, like a black hole
            }

            if (await route.Connected.ConfigureAwait(false))
            {
                try
                {
                    await route.Stream!.WriteAsync(data, _lifetime.Token).ConfigureAwait(false);
                    return true;
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException or IOException)
                {
                    // Fall through: a route replaced mid-send is retried on its successor.
                }
            }

            if (ReferenceEquals(Volatile.Read(ref _route), route))
            {
                return false; // the current upstream is gone
            }
        }
    }

    private async Task PumpUpstreamAsync(UpstreamRoute route)
    {
        try
        {
            Stream stream;
            using (var connect = CancellationTokenSource.CreateLinkedTokenSource(_lifetime.Token))
            {
                connect.CancelAfter(ConnectTimeout);
                await route.Socket.ConnectAsync(route.EndPoint, connect.Token).ConfigureAwait(false);
                stream = new NetworkStream(route.Socket, ownsSocket: true);
                if (_tls is not null)
                {
                    stream = await _tls.AuthenticateUpstreamAsync(stream, route.Authenticate, connect.Token).ConfigureAwait(false);
                }

                route.Stream = stream;
            }

            route.MarkConnected();
            var buffer = new byte[BufferSize];
            while (true)
            {
                var read = await stream.ReadAsync(buffer, _lifetime.Token).ConfigureAwait(false);
                if (read == 0)
                {
                    break;
                }

                await WriteToClientAsync(route, buffer.AsMemory(0, read)).ConfigureAwait(false);
            }
        }
#pragma warning disable CA1031 // A pump ends its own connection on any failure and never faults.
        catch (Exception)
#pragma warning restore CA1031
        {
        }
        finally
        {
            route.MarkEnded();
            if (ReferenceEquals(Volatile.Read(ref _route), route))
            {
                Close();
            }
            else
            {
                route.Close();
            }
        }
    }

    private async Task WriteToClientAsync(UpstreamRoute route, ReadOnlyMemory<byte> data)
    {
        await _clientWriteGate.WaitAsync(_lifetime.Token).ConfigureAwait(false);
        try
        {
            // Replies of a replaced route, or of a black-holed connection, never reach the client.
            if (ReferenceEquals(Volatile.Read(ref _route), route) && !_blackHoled)
            {
                var client = await _clientStream.Task.ConfigureAwait(false);
                await client.WriteAsync(data, _lifetime.Token).ConfigureAwait(false);
            }
        }
        finally
        {
            _clientWriteGate.Release();
        }
    }
}
