using System.Net;
using System.Net.Sockets;

namespace RateLimiting.Redis.Tests.Infrastructure.FaultProxy;

/// <summary>
/// A TCP proxy in front of Redis nodes on 127.0.0.1 that can misroute or black-hole connections,
/// to reproduce network faults against real servers. Listen port k forwards to upstream port k;
/// cluster nodes announce the listen ports (<c>cluster-announce-port</c>) so clients only ever
/// connect through the proxy.
/// </summary>
/// <remarks>
/// <para>
/// The field fault this reproduces: a client's connection to node A in fact talks to node B (a
/// NAT or load-balancer mix-up), so B answers <c>MOVED &lt;slot&gt; A</c> naming the very endpoint
/// the client used, forever. <see cref="SetMode"/> with <see cref="ProxyMode.MisrouteExisting"/>
/// re-points every open connection to another node without closing its client side.
/// </para>
/// <para>
/// The proxy forwards bytes and knows nothing of RESP: replies in flight at the moment a
/// connection is re-pointed, black-holed or restored are lost, and a client then pairs later
/// replies with the wrong commands. That is why <see cref="Restore"/> closes every connection it
/// does not leave in its normal state, so that clients reconnect with a clean stream.
/// </para>
/// <para>
/// With a <see cref="ProxyTls"/>, for TLS-only nodes, the proxy terminates TLS on both sides (a
/// TLS session cannot be re-pointed to another node) and authenticates every route it opens for
/// a re-pointed connection; it still knows nothing of RESP beyond that one <c>AUTH</c>.
/// </para>
/// <para>All members are thread-safe; modes can be switched at any time, before or after <see cref="Start"/>.</para>
/// </remarks>
public sealed class RedisFaultProxy : IAsyncDisposable
{
    private const int ListenBacklog = 512;

    private readonly IPEndPoint[] _upstreams;
    private readonly ProxyTls? _tls;
    private readonly int[] _listenPorts;
    private readonly bool[] _blackHoled; // per listen port index, guarded by _sync
    private readonly Lock _sync = new();
    private readonly Dictionary<ProxyConnection, Task> _connections = [];
    private readonly CancellationTokenSource _stopping = new();

    private Socket[] _listeners = [];
    private Task[] _acceptLoops = [];
    private ProxyMode _mode = ProxyMode.Normal;
    private int[] _misroute; // listen index -> upstream index, for the misroute modes
    private long _acceptedConnections;
    private bool _started;
    private bool _disposed;

    /// <summary>Creates a proxy; nothing listens until <see cref="Start"/>.</summary>
    /// <param name="upstreamPorts">The ports of the real nodes on 127.0.0.1.</param>
    /// <param name="listenPorts">The ports to listen on, on 127.0.0.1: <paramref name="listenPorts"/>[k] forwards to <paramref name="upstreamPorts"/>[k].</param>
    /// <param name="tls">
    /// <see langword="null"/> (the default): a byte-level TCP proxy. Otherwise the proxy terminates
    /// TLS on both sides, for TLS-only nodes; see <see cref="ProxyTls"/>.
    /// </param>
    public RedisFaultProxy(IReadOnlyList<int> upstreamPorts, IReadOnlyList<int> listenPorts, ProxyTls? tls = null)
    {
        ArgumentNullException.ThrowIfNull(upstreamPorts);
        ArgumentNullException.ThrowIfNull(listenPorts);
        if (upstreamPorts.Count == 0)
        {
            throw new ArgumentException("At least one upstream port is required.", nameof(upstreamPorts));
        }

        if (listenPorts.Count != upstreamPorts.Count)
        {
            throw new ArgumentException(
                $"Every upstream port needs one listen port: {upstreamPorts.Count} upstream ports, {listenPorts.Count} listen ports.",
                nameof(listenPorts));
        }

        foreach (var port in upstreamPorts.Concat(listenPorts))
        {
            if (port is <= IPEndPoint.MinPort or > IPEndPoint.MaxPort)
            {
                throw new ArgumentOutOfRangeException(nameof(upstreamPorts), port, "Ports must be between 1 and 65535.");
            }
        }

        if (listenPorts.Distinct().Count() != listenPorts.Count)
        {
            throw new ArgumentException("Listen ports must be distinct.", nameof(listenPorts));
        }

        _upstreams = [.. upstreamPorts.Select(port => new IPEndPoint(IPAddress.Loopback, port))];
        _tls = tls;
        _listenPorts = [.. listenPorts];
        _blackHoled = new bool[_listenPorts.Length];
        _misroute = DefaultMisroute(_listenPorts.Length);
        UpstreamPorts = [.. upstreamPorts];
        ListenPorts = [.. listenPorts];
    }

    /// <summary>The real nodes' ports, in the order given to the constructor.</summary>
    public IReadOnlyList<int> UpstreamPorts { get; }

    /// <summary>The proxy's ports, in the order given to the constructor.</summary>
    public IReadOnlyList<int> ListenPorts { get; }

    /// <summary>The current routing mode.</summary>
    public ProxyMode Mode
    {
        get
        {
            lock (_sync)
            {
                return _mode;
            }
        }
    }

    /// <summary>How many client connections the proxy has accepted since it started, black-holed ones included.</summary>
    public long AcceptedConnections => Interlocked.Read(ref _acceptedConnections);

    /// <summary>How many client connections are open now, black-holed ones included.</summary>
    public int OpenConnections
    {
        get
        {
            lock (_sync)
            {
                return _connections.Count;
            }
        }
    }

    /// <summary>
    /// Finds <paramref name="count"/> distinct ports free on 127.0.0.1 at the time of the call,
    /// by binding them all at once and releasing them. Another process may take a port before
    /// the caller binds it: callers that must not fail retry on fresh ports.
    /// </summary>
    public static IReadOnlyList<int> FindFreePorts(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(count);
        var sockets = new List<Socket>(count);
        try
        {
            for (var i = 0; i < count; i++)
            {
                var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                sockets.Add(socket);
                socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
            }

            return [.. sockets.Select(socket => ((IPEndPoint)socket.LocalEndPoint!).Port)];
        }
        finally
        {
            foreach (var socket in sockets)
            {
                socket.Dispose();
            }
        }
    }

    /// <summary>Starts listening on every listen port.</summary>
    /// <exception cref="InvalidOperationException">Already started, or a listen port is in use (the inner exception says why).</exception>
    /// <exception cref="ObjectDisposedException">The proxy was disposed.</exception>
    public void Start()
    {
        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_started)
            {
                throw new InvalidOperationException("The proxy is already started.");
            }

            var listeners = new List<Socket>(_listenPorts.Length);
            try
            {
                foreach (var port in _listenPorts)
                {
                    var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                    listeners.Add(listener);
                    try
                    {
                        listener.Bind(new IPEndPoint(IPAddress.Loopback, port));
                        listener.Listen(ListenBacklog);
                    }
                    catch (SocketException ex)
                    {
                        throw new InvalidOperationException($"The proxy cannot listen on 127.0.0.1:{port}: {ex.SocketErrorCode}.", ex);
                    }
                }
            }
            catch
            {
                foreach (var listener in listeners)
                {
                    listener.Dispose();
                }

                throw;
            }

            _listeners = [.. listeners];
            _acceptLoops = [.. _listeners.Select((listener, index) => Task.Run(() => AcceptLoopAsync(listener, index)))];
            _started = true;
        }
    }

    /// <summary>Switches the routing mode; takes effect for every byte a client sends after this returns.</summary>
    /// <param name="mode">The new mode. <see cref="ProxyMode.Normal"/> routes new connections to their own node and leaves open connections where they are (see <see cref="Restore"/>).</param>
    /// <param name="misroute">
    /// For the misroute modes: maps the index of a listen port (that is, of its own node) to the
    /// index of the upstream its connections go to instead, e.g. to send each master to another
    /// master; mapping an index to itself leaves that port alone. The default maps k to (k + 1) mod N.
    /// </param>
    /// <exception cref="ArgumentException">A mapping for <see cref="ProxyMode.Normal"/>, or one that returns an index out of range.</exception>
    public void SetMode(ProxyMode mode, Func<int, int>? misroute = null)
    {
        if (!Enum.IsDefined(mode))
        {
            throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown proxy mode.");
        }

        if (mode == ProxyMode.Normal && misroute is not null)
        {
            throw new ArgumentException("A misroute mapping applies to the misroute modes only.", nameof(misroute));
        }

        // Evaluated once, here: the caller's code never runs on the accept path, and a bad mapping fails the call.
        var table = misroute is null ? DefaultMisroute(_listenPorts.Length) : BuildMisrouteTable(misroute);
        lock (_sync)
        {
            _mode = mode;
            _misroute = table;
            if (mode == ProxyMode.Normal)
            {
                return;
            }

            foreach (var connection in _connections.Keys.ToArray())
            {
                if (!connection.IsBlackHoled && connection.UpstreamIndex is not null)
                {
                    connection.RouteTo(table[connection.ListenIndex]);
                }
            }
        }
    }

    /// <summary>
    /// Black-holes one listen port: new connections are accepted and their bytes read and dropped,
    /// and open connections on it stop being answered; nothing is closed.
    /// </summary>
    /// <param name="listenPort">One of <see cref="ListenPorts"/>.</param>
    public void BlackHole(int listenPort)
    {
        var index = Array.IndexOf(_listenPorts, listenPort);
        if (index < 0)
        {
            throw new ArgumentException($"{listenPort} is not a listen port of this proxy.", nameof(listenPort));
        }

        BlackHoleCore(index);
    }

    /// <summary>Black-holes every listen port (see <see cref="BlackHole"/>).</summary>
    public void BlackHoleAll()
    {
        for (var index = 0; index < _listenPorts.Length; index++)
        {
            BlackHoleCore(index);
        }
    }

    /// <summary>
    /// Back to <see cref="ProxyMode.Normal"/> with no black hole, and closes every open connection
    /// that is black-holed or misrouted (its stream lost bytes), so clients reconnect to the right node.
    /// Connections already in their normal state stay open.
    /// </summary>
    public void Restore()
    {
        List<ProxyConnection> faulty;
        lock (_sync)
        {
            _mode = ProxyMode.Normal;
            _misroute = DefaultMisroute(_listenPorts.Length);
            Array.Clear(_blackHoled);
            faulty = [.. _connections.Keys.Where(c => c.IsBlackHoled || c.UpstreamIndex != c.ListenIndex)];
        }

        foreach (var connection in faulty)
        {
            connection.Close();
        }
    }

    /// <summary>Stops listening, closes every connection and waits for every background task; never throws.</summary>
    public async ValueTask DisposeAsync()
    {
        Task[] pending;
        List<ProxyConnection> connections;
        lock (_sync)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true; // from here on, accepted sockets are closed at once
            connections = [.. _connections.Keys];
            pending = [.. _acceptLoops, .. _connections.Values];
        }

        try
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
        }
        catch (AggregateException)
        {
            // A cancellation callback threw; the listeners are closed below regardless.
        }

        foreach (var listener in _listeners)
        {
            listener.Dispose();
        }

        foreach (var connection in connections)
        {
            connection.Close();
        }

        // Accept loops and connection tasks catch their own exceptions; this guard is for the contract.
        try
        {
            await Task.WhenAll(pending).ConfigureAwait(false);
        }
#pragma warning disable CA1031 // DisposeAsync never throws.
        catch (Exception)
#pragma warning restore CA1031
        {
        }

        _stopping.Dispose();
    }

    private static int[] DefaultMisroute(int count) => [.. Enumerable.Range(0, count).Select(k => (k + 1) % count)];

    private int[] BuildMisrouteTable(Func<int, int> misroute)
    {
        var table = new int[_listenPorts.Length];
        for (var k = 0; k < table.Length; k++)
        {
            table[k] = misroute(k);
            if (table[k] < 0 || table[k] >= _upstreams.Length)
            {
                throw new ArgumentOutOfRangeException(
                    nameof(misroute), table[k], $"The mapping sends index {k} to an index outside 0..{_upstreams.Length - 1}.");
            }
        }

        return table;
    }

    private void BlackHoleCore(int index)
    {
        lock (_sync)
        {
            _blackHoled[index] = true;
            foreach (var connection in _connections.Keys)
            {
                if (connection.ListenIndex == index)
                {
                    connection.BlackHole();
                }
            }
        }
    }

    private async Task AcceptLoopAsync(Socket listener, int index)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException) when (!_stopping.IsCancellationRequested)
            {
                continue; // e.g. a client that reset before it was accepted
            }
            catch (SocketException)
            {
                return;
            }

            Interlocked.Increment(ref _acceptedConnections);
            Admit(client, index);
        }
    }

    private void Admit(Socket client, int index)
    {
        lock (_sync)
        {
            if (_disposed)
            {
                client.Dispose();
                return;
            }

            var connection = new ProxyConnection(client, index, _upstreams, _tls);
            if (_blackHoled[index])
            {
                connection.BlackHole();
            }
            else
            {
                connection.RouteTo(_mode == ProxyMode.MisrouteAll ? _misroute[index] : index);
            }

            // Runs after Add: its removal needs the lock held here.
            _connections.Add(connection, Task.Run(() => RunConnectionAsync(connection)));
        }
    }

    private async Task RunConnectionAsync(ProxyConnection connection)
    {
        try
        {
            await connection.RunAsync().ConfigureAwait(false);
        }
        finally
        {
            lock (_sync)
            {
                _connections.Remove(connection);
            }
        }
    }
}
