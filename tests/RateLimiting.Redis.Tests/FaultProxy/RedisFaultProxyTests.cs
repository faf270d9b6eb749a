using System.Net;
using System.Net.Sockets;
using RateLimiting.Redis.Tests.Infrastructure;
using RateLimiting.Redis.Tests.Infrastructure.FaultProxy;
using StackExchange.Redis;

namespace RateLimiting.Redis.Tests.FaultProxy;

/// <summary>
/// The fault proxy against three real standalone servers; each server holds its own name under
/// <see cref="StandaloneRedisServers.WhoAmIKey"/>, so a test reads which server answered.
/// </summary>
public sealed class RedisFaultProxyTests : IClassFixture<StandaloneRedisServers>, IAsyncLifetime
{
    private const int StartAttempts = 3;
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(10);

    // How long a black-holed command is watched for a reply; a longer window only makes the test slower.
    private static readonly TimeSpan SilenceWindow = TimeSpan.FromMilliseconds(300);

    private readonly StandaloneRedisServers _servers;
    private readonly List<RespConnection> _connections = [];
    private readonly List<Task> _pendingReplies = [];
    private RedisFaultProxy _proxy = null!;

    public RedisFaultProxyTests(StandaloneRedisServers servers) => _servers = servers;

    public Task InitializeAsync()
    {
        // A free port can be taken between finding and binding it: retry on fresh ones.
        for (var attempt = 1; ; attempt++)
        {
            var proxy = new RedisFaultProxy(_servers.Ports, RedisFaultProxy.FindFreePorts(_servers.Ports.Count));
            try
            {
                proxy.Start();
                _proxy = proxy;
                return Task.CompletedTask;
            }
            catch (InvalidOperationException) when (attempt < StartAttempts)
            {
            }
        }
    }

    public async Task DisposeAsync()
    {
        foreach (var connection in _connections)
        {
            await connection.DisposeAsync();
        }

        await _proxy.DisposeAsync();
        foreach (var reply in _pendingReplies)
        {
            // Replies a test left pending end with the connection; observe them.
            await reply.ContinueWith(_ => { }, TaskScheduler.Default);
        }
    }

    [Fact]
    public async Task Forwarding_NormalMode_EachListenPortReachesItsOwnNode()
    {
        // Arrange
        var connections = new List<RespConnection>();
        for (var index = 0; index < _proxy.ListenPorts.Count; index++)
        {
            connections.Add(await ConnectAsync(index));
        }

        // Act
        var answers = new List<string?>();
        foreach (var connection in connections)
        {
            answers.Add(await WhoAnswersAsync(connection));
        }

        // Assert
        Assert.Equal(["node-0", "node-1", "node-2"], answers);
        Assert.Equal(ProxyMode.Normal, _proxy.Mode);
    }

    [Fact]
    public async Task Forwarding_SetThroughProxy_ValueIsOnTheServerBehindIt()
    {
        // Arrange
        var key = "fault-proxy:set-" + Guid.NewGuid().ToString("N");
        var throughProxy = await ConnectAsync(1);

        // Act
        var setReply = await throughProxy.ExecuteAsync("SET", key, "forwarded");
        var direct = await ConnectDirectAsync(_servers.Ports[1]);
        var onServer = await direct.ExecuteAsync("GET", key);

        // Assert
        Assert.Equal("OK", setReply);
        Assert.Equal("forwarded", onServer);
    }

    [Fact]
    public async Task Forwarding_StackExchangeRedisClient_PingSetAndGetWork()
    {
        // Arrange
        var key = "fault-proxy:mux-" + Guid.NewGuid().ToString("N");
        using var multiplexer = await ConnectionMultiplexer
            .ConnectAsync($"127.0.0.1:{_proxy.ListenPorts[2]},abortConnect=false")
            .WaitAsync(Generous);
        await Poll.UntilAsync(() => Task.FromResult(multiplexer.IsConnected), connected => connected, Generous);
        var database = multiplexer.GetDatabase();

        // Act
        await database.PingAsync().WaitAsync(Generous);
        var set = await database.StringSetAsync(key, "through-proxy").WaitAsync(Generous);
        var value = await database.StringGetAsync(key).WaitAsync(Generous);
        var whoAmI = await database.StringGetAsync(StandaloneRedisServers.WhoAmIKey).WaitAsync(Generous);

        // Assert
        Assert.True(set);
        Assert.Equal("through-proxy", value.ToString());
        Assert.Equal("node-2", whoAmI.ToString());
        Assert.True(_proxy.AcceptedConnections >= 1);
    }

    [Fact]
    public async Task SetMode_MisrouteExisting_OpenConnectionHitsNextNodeWhileNewConnectionHitsItsOwn()
    {
        // Arrange
        var open = await ConnectAsync(0);
        var before = await WhoAnswersAsync(open);

        // Act
        _proxy.SetMode(ProxyMode.MisrouteExisting);
        var openAfter = await WhoAnswersAsync(open);
        var fresh = await ConnectAsync(0);
        var freshAfter = await WhoAnswersAsync(fresh);

        // Assert
        Assert.Equal("node-0", before);
        Assert.Equal("node-1", openAfter);
        Assert.Equal("node-0", freshAfter);
        Assert.Equal(ProxyMode.MisrouteExisting, _proxy.Mode);
    }

    [Fact]
    public async Task SetMode_MisrouteExistingWithMapping_OpenConnectionsFollowTheMapping()
    {
        // Arrange
        var onPort0 = await ConnectAsync(0);
        var onPort1 = await ConnectAsync(1);
        await WhoAnswersAsync(onPort0);
        await WhoAnswersAsync(onPort1);

        // Act
        _proxy.SetMode(ProxyMode.MisrouteExisting, index => index == 0 ? 2 : index);
        var port0Answer = await WhoAnswersAsync(onPort0);
        var port1Answer = await WhoAnswersAsync(onPort1);

        // Assert
        Assert.Equal("node-2", port0Answer);
        Assert.Equal("node-1", port1Answer); // mapped to itself: left alone
    }

    [Fact]
    public async Task SetMode_MisrouteExisting_EveryLaterCommandOnTheConnectionHitsTheNextNode()
    {
        // Arrange
        var open = await ConnectAsync(1);
        await WhoAnswersAsync(open);

        // Act
        _proxy.SetMode(ProxyMode.MisrouteExisting);
        var answers = new List<string?>();
        for (var i = 0; i < 20; i++)
        {
            answers.Add(await WhoAnswersAsync(open));
        }

        // Assert
        Assert.All(answers, answer => Assert.Equal("node-2", answer));
    }

    [Fact]
    public async Task SetMode_MisrouteAll_NewConnectionsHitTheNextNodeToo()
    {
        // Arrange
        var open = await ConnectAsync(2);
        await WhoAnswersAsync(open);

        // Act
        _proxy.SetMode(ProxyMode.MisrouteAll);
        var openAfter = await WhoAnswersAsync(open);
        var fresh = await ConnectAsync(2);
        var freshAfter = await WhoAnswersAsync(fresh);

        // Assert
        Assert.Equal("node-0", openAfter);
        Assert.Equal("node-0", freshAfter);
    }

    [Fact]
    public async Task SetMode_NormalAfterMisrouteAll_NewConnectionsHitTheirOwnNodeAgain()
    {
        // Arrange
        _proxy.SetMode(ProxyMode.MisrouteAll);
        var misrouted = await WhoAnswersAsync(await ConnectAsync(0));

        // Act
        _proxy.SetMode(ProxyMode.Normal);
        var fresh = await WhoAnswersAsync(await ConnectAsync(0));

        // Assert
        Assert.Equal("node-1", misrouted);
        Assert.Equal("node-0", fresh);
    }

    [Fact]
    public async Task SetMode_MappingOutOfRange_ThrowsAndKeepsTheMode()
    {
        // Arrange
        var open = await ConnectAsync(0);
        await WhoAnswersAsync(open);

        // Act
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => _proxy.SetMode(ProxyMode.MisrouteExisting, index => index + 5));

        // Assert
        Assert.Equal("misroute", error.ParamName);
        Assert.Equal(ProxyMode.Normal, _proxy.Mode);
        Assert.Equal("node-0", await WhoAnswersAsync(open));
    }

    [Fact]
    public async Task BlackHole_OpenAndNewConnectionsOnThePort_NoReplyArrivesWithinTheDeadline()
    {
        // Arrange
        var open = await ConnectAsync(0);
        var otherPort = await ConnectAsync(1);
        await WhoAnswersAsync(open);
        await WhoAnswersAsync(otherPort);

        // Act
        _proxy.BlackHole(_proxy.ListenPorts[0]);
        var openReply = await SendAndWatchReplyAsync(open, "PING");
        var fresh = await ConnectAsync(0);
        var freshReply = await SendAndWatchReplyAsync(fresh, "PING");
        var otherPortAnswer = await WhoAnswersAsync(otherPort);
        await Poll.UntilAsync(() => Task.FromResult(_proxy.AcceptedConnections), accepted => accepted == 3, Generous);
        await Task.WhenAny(Task.WhenAny(openReply, freshReply), Task.Delay(SilenceWindow));

        // Assert
        Assert.False(openReply.IsCompleted, "A reply arrived on the open black-holed connection within the deadline.");
        Assert.False(freshReply.IsCompleted, "A reply arrived on the new black-holed connection within the deadline.");
        Assert.Equal("node-1", otherPortAnswer);
        Assert.Equal(3, _proxy.OpenConnections); // black-holed, not closed
    }

    [Fact]
    public async Task Restore_AfterBlackHole_NewConnectionWorksAndBlackHoledConnectionIsClosed()
    {
        // Arrange
        var open = await ConnectAsync(0);
        await WhoAnswersAsync(open);
        _proxy.BlackHole(_proxy.ListenPorts[0]);
        var pending = await SendAndWatchReplyAsync(open, "PING");

        // Act
        _proxy.Restore();
        var fresh = await WhoAnswersAsync(await ConnectAsync(0));

        // Assert
        Assert.Equal("node-0", fresh);
        await Assert.ThrowsAnyAsync<IOException>(() => pending.WaitAsync(Generous));
    }

    [Fact]
    public async Task BlackHoleAll_ThenRestore_NoReplyWithinTheDeadlineThenEveryPortWorks()
    {
        // Arrange
        _proxy.BlackHoleAll();
        var pending = new List<Task<object?>>();
        for (var index = 0; index < _proxy.ListenPorts.Count; index++)
        {
            pending.Add(await SendAndWatchReplyAsync(await ConnectAsync(index), "PING"));
        }

        await Task.WhenAny(Task.WhenAny(pending), Task.Delay(SilenceWindow));
        var answeredWhileBlackHoled = pending.Count(reply => reply.IsCompleted);

        // Act
        _proxy.Restore();
        var answers = new List<string?>();
        for (var index = 0; index < _proxy.ListenPorts.Count; index++)
        {
            answers.Add(await WhoAnswersAsync(await ConnectAsync(index)));
        }

        // Assert
        Assert.Equal(0, answeredWhileBlackHoled);
        Assert.Equal(["node-0", "node-1", "node-2"], answers);
    }

    [Fact]
    public async Task Restore_AfterMisrouteExisting_ClosesMisroutedConnectionsAndKeepsTheOthers()
    {
        // Arrange
        var misrouted = await ConnectAsync(0);
        var untouched = await ConnectAsync(2);
        await WhoAnswersAsync(misrouted);
        await WhoAnswersAsync(untouched);
        _proxy.SetMode(ProxyMode.MisrouteExisting, index => index == 0 ? 1 : index);
        await WhoAnswersAsync(misrouted);

        // Act
        _proxy.Restore();

        // Assert
        await Assert.ThrowsAnyAsync<IOException>(() => WhoAnswersAsync(misrouted));
        Assert.Equal("node-2", await WhoAnswersAsync(untouched));
        Assert.Equal(ProxyMode.Normal, _proxy.Mode);
    }

    [Fact]
    public async Task Forwarding_UpstreamClosesConnection_ClientSeesTheConnectionClosed()
    {
        // Arrange
        var connection = await ConnectAsync(0);
        await WhoAnswersAsync(connection);

        // Act
        var quitReply = await connection.ExecuteAsync("QUIT"); // the server answers, then closes

        // Assert
        Assert.Equal("OK", quitReply);
        using var deadline = new CancellationTokenSource(Generous);
        await Assert.ThrowsAnyAsync<IOException>(() => connection.ReadReplyAsync(deadline.Token));
        await Poll.UntilAsync(() => Task.FromResult(_proxy.OpenConnections), open => open == 0, Generous);
    }

    [Fact]
    public async Task OpenConnections_ClientCloses_PairIsClosedAndCountersAgree()
    {
        // Arrange
        var connection = await ConnectAsync(1);
        await WhoAnswersAsync(connection);
        var openBefore = _proxy.OpenConnections;

        // Act
        await connection.DisposeAsync();

        // Assert
        Assert.Equal(1, openBefore);
        await Poll.UntilAsync(() => Task.FromResult(_proxy.OpenConnections), open => open == 0, Generous);
        Assert.Equal(1, _proxy.AcceptedConnections);
    }

    [Fact]
    public async Task DisposeAsync_OpenClientConnection_ClientSeesTheConnectionClosed()
    {
        // Arrange
        var connection = await ConnectAsync(0);
        await WhoAnswersAsync(connection);

        // Act
        await _proxy.DisposeAsync();
        await _proxy.DisposeAsync(); // idempotent

        // Assert
        using var deadline = new CancellationTokenSource(Generous);
        await Assert.ThrowsAnyAsync<IOException>(() => connection.ReadReplyAsync(deadline.Token));
        Assert.Equal(0, _proxy.OpenConnections);
        await Assert.ThrowsAnyAsync<SocketException>(() => RespConnection.ConnectAsync(_proxy.ListenPorts[0]));
    }

    [Fact]
    public void Constructor_PortCountsDiffer_Throws()
    {
        // Arrange
        int[] upstreams = [7000, 7001];
        int[] listens = [17000];

        // Act
        var error = Assert.Throws<ArgumentException>(() => new RedisFaultProxy(upstreams, listens));

        // Assert
        Assert.Equal("listenPorts", error.ParamName);
    }

    [Fact]
    public void BlackHole_PortNotOfThisProxy_Throws()
    {
        // Arrange
        var notListened = _servers.Ports[0];

        // Act
        var error = Assert.Throws<ArgumentException>(() => _proxy.BlackHole(notListened));

        // Assert
        Assert.Equal("listenPort", error.ParamName);
    }

    [Fact]
    public void FindFreePorts_Three_ReturnsDistinctBindablePorts()
    {
        // Act
        var ports = RedisFaultProxy.FindFreePorts(3);

        // Assert
        Assert.Equal(3, ports.Distinct().Count());
        Assert.All(ports, port => Assert.InRange(port, 1, IPEndPoint.MaxPort));
    }

    private static async Task<string?> WhoAnswersAsync(RespConnection connection)
        => (string?)await connection.ExecuteAsync("GET", StandaloneRedisServers.WhoAmIKey);

    private Task<RespConnection> ConnectAsync(int listenIndex) => ConnectDirectAsync(_proxy.ListenPorts[listenIndex]);

    private async Task<RespConnection> ConnectDirectAsync(int port)
    {
        var connection = await RespConnection.ConnectAsync(port);
        _connections.Add(connection);
        return connection;
    }

    /// <summary>Sends a command and returns its pending reply, which the test's dispose observes.</summary>
    private async Task<Task<object?>> SendAndWatchReplyAsync(RespConnection connection, string command)
    {
        await connection.SendAsync(command);
        var reply = connection.ReadReplyAsync(CancellationToken.None);
        _pendingReplies.Add(reply);
        return reply;
    }
}
