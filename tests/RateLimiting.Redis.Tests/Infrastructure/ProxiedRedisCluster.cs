using System.Globalization;
using System.Net.Sockets;
using System.Text;
using RateLimiting.Redis.Tests.Infrastructure.FaultProxy;
using RateLimiting.Testing;

namespace RateLimiting.Redis.Tests.Infrastructure;

/// <summary>
/// A Redis Cluster (3 masters + 3 replicas on 127.0.0.1) that clients reach only through a
/// <see cref="RedisFaultProxy"/>, for the destructive scenarios: one per test, broken at will,
/// stopped (nodes and proxy) and deleted on dispose. Node k listens on <see cref="NodePorts"/>[k]
/// and announces <see cref="ProxyPorts"/>[k] (<c>eng/redis-cluster.sh --announce-ports</c>), which
/// the proxy forwards to it; so every address a client learns (CLUSTER NODES, MOVED, ASK) is a
/// proxy port. Administration (<see cref="ExecuteAsync"/>, kill and restart) uses the real ports.
/// A cluster that cannot start fails the test; it never skips it.
/// With <c>tls</c>, the nodes are TLS-only and password-protected (<c>--tls --password</c>, as in
/// <see cref="TlsRedisClusterFixture"/>) and the proxy terminates TLS (<see cref="ProxyTls"/>);
/// administration then goes through <c>redis-cli --tls</c>.
/// </summary>
/// <remarks>
/// Replicas reach their master at its announced address too, so a fault on a master's proxy port
/// also hits its replication link (the cluster bus is direct and never faulted): the cluster itself
/// still sees every node, as in a fault between the clients and the cluster.
/// </remarks>
internal sealed class ProxiedRedisCluster : IAsyncDisposable
{
    public const int NodeCount = ClusterScript.NodeCount;

    private const string Host = "127.0.0.1";
    private const int StartAttempts = 3;

    private static readonly TimeSpan NodeDeadline = TimeSpan.FromSeconds(15);

    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "rl-proxied-" + Guid.NewGuid().ToString("N"));
    private RedisFaultProxy? _proxy;
    private int[] _nodePorts = [];
    private int _stopped;

    private ProxiedRedisCluster(IReadOnlyList<int> proxyPorts, bool tls)
    {
        ProxyPorts = proxyPorts;
        Password = tls ? Convert.ToHexString(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16)) : null;
    }

    /// <summary>Whether the nodes are TLS-only (and password-protected).</summary>
    public bool IsTls => Password is not null;

    /// <summary>The nodes' password, a fresh one per cluster; <see langword="null"/> for a plaintext cluster.</summary>
    public string? Password { get; }

    /// <summary>The private CA (PEM) of a TLS cluster, once started, for <c>TrustedCaCertificatePath</c>.</summary>
    public string CaCertificatePath => Path.Combine(_dataDirectory, "tls", "ca.crt");

    /// <summary>The proxy in front of the nodes, once started; <see cref="ProxyPorts"/>[k] is its listen port k.</summary>
    public RedisFaultProxy Proxy => _proxy ?? throw new InvalidOperationException("The cluster is not started.");

    /// <summary>The ports clients use: the proxy's, which the nodes announce.</summary>
    public IReadOnlyList<int> ProxyPorts { get; }

    /// <summary>The nodes' real client ports, once started; node k behind <see cref="ProxyPorts"/>[k].</summary>
    public IReadOnlyList<int> NodePorts => _nodePorts;

    /// <summary>
    /// All six proxy endpoints, e.g. <c>127.0.0.1:41000,127.0.0.1:41001,...</c>, and for a TLS
    /// cluster <c>ssl=true,sslHost=redis.test,password=…</c>; known before the cluster starts.
    /// </summary>
    public string ConfigurationString =>
        string.Join(',', ProxyPorts.Select(port => Host + ":" + port.ToString(CultureInfo.InvariantCulture)))
        + (IsTls ? $",ssl=true,sslHost={TlsRedisClusterFixture.TlsHost},password={Password}" : string.Empty);

    /// <summary>Chooses the ports; nothing listens on them until <see cref="StartAsync()"/>.</summary>
    /// <param name="tls">A TLS-only, password-protected cluster behind a TLS-terminating proxy.</param>
    public static ProxiedRedisCluster Reserve(bool tls = false) => new(RedisFaultProxy.FindFreePorts(NodeCount), tls);

    /// <summary>Reserves ports and starts the proxy and the cluster.</summary>
    /// <param name="tls">A TLS-only, password-protected cluster behind a TLS-terminating proxy.</param>
    public static async Task<ProxiedRedisCluster> StartNewAsync(bool tls = false)
    {
        var cluster = Reserve(tls);
        try
        {
            await cluster.StartAsync();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary>Starts the proxy, then the nodes behind it, and creates the cluster (which reaches the nodes through the proxy).</summary>
    public async Task StartAsync()
    {
        if (_nodePorts.Length > 0)
        {
            throw new InvalidOperationException("The cluster is already started.");
        }

        AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
        var failures = new StringBuilder();
        for (var attempt = 1; attempt <= StartAttempts; attempt++)
        {
            // The proxy forwards to the nodes' ports, which a taken port changes: one proxy per attempt.
            var basePort = ClusterScript.PickFreeBasePort(ProxyPorts);
            if (_proxy is not null)
            {
                await _proxy.DisposeAsync();
            }

            // The script makes the certificates after the proxy listens: the proxy reads them on its first connection.
            var tls = IsTls
                ? new ProxyTls(
                    Path.Combine(_dataDirectory, "tls", "server.crt"),
                    Path.Combine(_dataDirectory, "tls", "server.key"),
                    CaCertificatePath,
                    TlsRedisClusterFixture.TlsHost,
                    Password)
                : null;
            _proxy = new RedisFaultProxy(Enumerable.Range(basePort, NodeCount).ToArray(), ProxyPorts, tls);
            _proxy.Start();
            string[] security = IsTls ? ["--tls", "--password", Password!] : [];
            var start = await RunScriptAsync(
                "start",
                basePort,
                [
                    "--owner-pid",
                    Environment.ProcessId.ToString(CultureInfo.InvariantCulture),
                    "--announce-ports",
                    string.Join(',', ProxyPorts),
                    .. security,
                ]);
            if (start.Succeeded)
            {
                _nodePorts = Enumerable.Range(basePort, NodeCount).ToArray();
                if (!start.StandardOutput.Trim().StartsWith(ConfigurationString, StringComparison.Ordinal))
                {
                    throw new InvalidOperationException($"The script printed '{Masked(start.StandardOutput.Trim())}', expected '{Masked(ConfigurationString)}'.");
                }

                return;
            }

            failures.AppendLine(CultureInfo.InvariantCulture, $"=== attempt {attempt}: eng/redis-cluster.sh start --base-port {basePort}, {Masked(start.Output)}");
            var stop = await RunScriptAsync("stop", basePort);
            if (!stop.Succeeded)
            {
                failures.AppendLine(CultureInfo.InvariantCulture, $"=== stop after attempt {attempt}: {stop.Output}");
            }

            if (start.ExitCode != ClusterScript.PortInUseExitCode || start.TimedOut)
            {
                break;
            }
        }

        throw new InvalidOperationException($"Could not start a proxied Redis Cluster (data directory {_dataDirectory}).{Environment.NewLine}{failures}");
    }

    /// <summary>The index k of <paramref name="proxyPort"/> in <see cref="ProxyPorts"/>.</summary>
    public int IndexOf(int proxyPort)
    {
        var index = ProxyPorts.ToList().IndexOf(proxyPort);
        return index >= 0 ? index : throw new ArgumentException($"{proxyPort} is not a proxy port of this cluster.", nameof(proxyPort));
    }

    /// <summary>The real port of the node that announces <paramref name="proxyPort"/>.</summary>
    public int NodePortOf(int proxyPort) => NodePorts[IndexOf(proxyPort)];

    /// <summary>The node <paramref name="node"/> names (its ports are proxy ports) as administration reaches it: at its real port.</summary>
    public AdminNode AdminNodeOf(ClusterNodeInfo node)
    {
        ArgumentNullException.ThrowIfNull(node);
        return new AdminNode(node.Id, NodePortOf(node.Port));
    }

    /// <summary>
    /// A mapping for <see cref="RedisFaultProxy.SetMode"/>: the port of each of <paramref name="masters"/>
    /// to the next master's node (the last to the first); every other port, replicas included, to its own.
    /// </summary>
    public Func<int, int> EachMasterToTheNext(IReadOnlyList<ClusterNodeInfo> masters)
    {
        var indexes = masters.Select(master => IndexOf(master.Port)).ToArray();
        return index => Array.IndexOf(indexes, index) is var at and >= 0 ? indexes[(at + 1) % indexes.Length] : index;
    }

    /// <summary>Sends one command straight to the node behind <paramref name="proxyPort"/>, past the proxy; an error reply throws. Plaintext clusters only.</summary>
    public async Task<object?> ExecuteAsync(int proxyPort, params string[] args)
    {
        if (IsTls)
        {
            throw new NotSupportedException("RespConnection speaks plaintext only; a TLS cluster is administered with redis-cli (see NodesAsync).");
        }

        await using var connection = await RespConnection.ConnectAsync(NodePortOf(proxyPort));
        return await connection.ExecuteAsync(args);
    }

    /// <summary>CLUSTER NODES as the first node that answers sees it; the ports in it are proxy ports.</summary>
    public async Task<IReadOnlyList<ClusterNodeInfo>> NodesAsync()
    {
        var errors = new List<Exception>();
        foreach (var proxyPort in ProxyPorts)
        {
            try
            {
                var nodes = IsTls
                    ? await RedisCliAsync(NodePortOf(proxyPort), "CLUSTER", "NODES")
                    : (string)(await ExecuteAsync(proxyPort, "CLUSTER", "NODES"))!;
                return ClusterNodeInfo.ParseAll(nodes);
            }
            catch (Exception ex) when (ex is SocketException or IOException or InvalidOperationException or OperationCanceledException)
            {
                errors.Add(ex); // that node is down (a failover scenario): ask the next one
            }
        }

        throw new AggregateException("No node answered CLUSTER NODES.", errors);
    }

    /// <summary>The masters the cluster does not consider failed, by proxy port.</summary>
    public async Task<IReadOnlyList<ClusterNodeInfo>> MastersAsync()
        => [.. (await NodesAsync()).Where(node => node.IsMaster && !node.IsFailed).OrderBy(node => node.Port)];

    /// <summary>Kills the node behind <paramref name="proxyPort"/> with SIGKILL, as a crash would, and waits until it is gone.</summary>
    public Task KillNodeAsync(int proxyPort) => ClusterScript.KillNodeAsync(_dataDirectory, NodePortOf(proxyPort), NodeDeadline);

    /// <summary>Starts the node behind <paramref name="proxyPort"/> again from its own config and nodes file, and waits until it answers PING.</summary>
    public async Task RestartNodeAsync(int proxyPort)
    {
        var nodePort = NodePortOf(proxyPort);
        var start = await ExternalProcess.RunAsync("redis-server", [Path.Combine(_dataDirectory, $"node-{nodePort}.conf")], NodeDeadline);
        if (!start.Succeeded)
        {
            throw new InvalidOperationException($"redis-server did not restart on port {nodePort}: {start.Output}");
        }

        await Poll.UntilAsync(() => AnswersPingAsync(nodePort), answers => answers, NodeDeadline);
    }

    /// <summary>Waits until every node reports a healthy 3 + 3 cluster (<c>eng/redis-cluster.sh status</c>).</summary>
    public async Task WaitUntilHealthyAsync(TimeSpan deadline)
        => await Poll.UntilAsync(async () => (await RunScriptAsync("status", NodePorts[0])).Succeeded, healthy => healthy, deadline);

    /// <summary>Stops the nodes, then the proxy, and deletes the data directory.</summary>
    public async ValueTask DisposeAsync()
    {
        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        try
        {
            if (_nodePorts.Length > 0 && Interlocked.Exchange(ref _stopped, 1) == 0)
            {
                var stop = await RunScriptAsync("stop", _nodePorts[0]);
                if (!stop.Succeeded)
                {
                    throw new InvalidOperationException($"Could not stop the proxied Redis Cluster in {_dataDirectory}: {stop.Output}");
                }
            }
        }
        finally
        {
            if (_proxy is not null)
            {
                await _proxy.DisposeAsync();
            }

            ClusterScript.TryDeleteDirectory(_dataDirectory);
        }
    }


    private async Task<bool> AnswersPingAsync(int nodePort)
    {
        try
        {
            if (IsTls)
            {
                return (await RedisCliAsync(nodePort, "PING")).Trim() == "PONG";
            }

            await using var connection = await RespConnection.ConnectAsync(nodePort);
            return await connection.ExecuteAsync("PING") is "PONG";
        }
        catch (Exception ex) when (ex is SocketException or IOException or InvalidOperationException or OperationCanceledException)
        {
            return false; // not listening yet, or still loading
        }
    }

    /// <summary>Runs <c>redis-cli --tls … -p nodePort args</c> past the proxy; returns stdout, throws if the command fails or replies with an error.</summary>
    private async Task<string> RedisCliAsync(int nodePort, params string[] args)
    {
        // -e: exit non-zero on an error reply. The password is this cluster's throw-away one.
        string[] arguments =
        [
            "-e", "--tls", "--cacert", CaCertificatePath, "--sni", TlsRedisClusterFixture.TlsHost, "--no-auth-warning", "-a", Password!,
            "-h", Host, "-p", nodePort.ToString(CultureInfo.InvariantCulture), .. args,
        ];
        var result = await ExternalProcess.RunAsync("redis-cli", arguments, NodeDeadline);
        if (!result.Succeeded)
        {
            throw new InvalidOperationException($"redis-cli -p {nodePort} {string.Join(' ', args)} failed: {Masked(result.Output)}");
        }

        return result.StandardOutput;
    }

    private string Masked(string text) => Password is null ? text : text.Replace(Password, "***", StringComparison.Ordinal);

    private Task<ProcessResult> RunScriptAsync(string command, int basePort, params string[] extraArguments)
        => ClusterScript.RunAsync(command, basePort, _dataDirectory, extraArguments);

    private void OnProcessExit(object? sender, EventArgs e)
    {
        if (_nodePorts.Length > 0 && Interlocked.Exchange(ref _stopped, 1) == 0)
        {
            // No async context here, and the process is going away: blocking is what we want.
            RunScriptAsync("stop", _nodePorts[0]).GetAwaiter().GetResult();
            ClusterScript.TryDeleteDirectory(_dataDirectory);
        }
    }

}
