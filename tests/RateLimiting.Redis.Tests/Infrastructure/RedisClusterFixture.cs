using System.Globalization;
using System.Text;
using RateLimiting.Testing;
using StackExchange.Redis;

namespace RateLimiting.Redis.Tests.Infrastructure;

/// <summary>
/// A real Redis Cluster (3 masters + 3 replicas on 127.0.0.1) for one test run: started with
/// <c>eng/redis-cluster.sh</c> on free ports, its files in a temporary directory outside the
/// repository, stopped and deleted at the end. A cluster that cannot start fails the tests; it
/// never skips them.
/// </summary>
public sealed class RedisClusterFixture : IAsyncLifetime
{
    public const int NodeCount = ClusterScript.NodeCount;

    private const string Host = "127.0.0.1";
    private const int StartAttempts = 3;

    // eng/redis-cluster.sh exits with this when a port is taken, e.g. by a race with another
    // process between our check and the node's bind: worth another try on other ports.

    private static readonly TimeSpan RedisCliTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan RedisCallTimeout = TimeSpan.FromSeconds(10);

    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "rl-tests-" + Guid.NewGuid().ToString("N"));
    private readonly Lazy<ConnectionMultiplexer> _multiplexer;
    private int[] _ports = [];
    private int _stopped;

    public RedisClusterFixture()
    {
        // allowAdmin: the fixture itself sends CLUSTER NODES through it (MasterPorts).
        _multiplexer = new Lazy<ConnectionMultiplexer>(() => Connect("allowAdmin=true"));
    }

    public int BasePort { get; private set; }

    /// <summary>The client ports of the six nodes, <see cref="BasePort"/> and the five after it.</summary>
    public IReadOnlyList<int> Ports => _ports;

    /// <summary>All six nodes, e.g. <c>127.0.0.1:20000,127.0.0.1:20001,...</c>.</summary>
    public string ConfigurationString =>
        string.Join(',', _ports.Select(port => Host + ":" + port.ToString(CultureInfo.InvariantCulture)));

    /// <summary>
    /// A connection shared by the tests, with admin commands allowed; created on first use, closed
    /// at teardown. Do not dispose it.
    /// </summary>
    public ConnectionMultiplexer Multiplexer => _multiplexer.Value;

    public async Task InitializeAsync()
    {
        // Safety nets for a test host that ends without DisposeAsync: ProcessExit covers a normal
        // exit, and --owner-pid makes the script stop the nodes when this process dies, even by
        // SIGKILL (e.g. a hang timeout).
        AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
        var failures = new StringBuilder();
        for (var attempt = 1; attempt <= StartAttempts; attempt++)
        {
            var basePort = ClusterScript.PickFreeBasePort();
            var start = await RunScriptAsync("start", basePort, "--owner-pid", Environment.ProcessId.ToString(CultureInfo.InvariantCulture)).ConfigureAwait(false);
            if (start.Succeeded)
            {
                BasePort = basePort;
                _ports = Enumerable.Range(basePort, NodeCount).ToArray();
                return;
            }

            failures.AppendLine(CultureInfo.InvariantCulture, $"=== attempt {attempt}: eng/redis-cluster.sh start --base-port {basePort}, {start.Output}");

            // The script stops what it started, unless the deadline killed it midway.
            var stop = await RunScriptAsync("stop", basePort).ConfigureAwait(false);
            if (!stop.Succeeded)
            {
                failures.AppendLine(CultureInfo.InvariantCulture, $"=== stop after attempt {attempt}: {stop.Output}");
            }

            if (start.ExitCode != ClusterScript.PortInUseExitCode || start.TimedOut)
            {
                break;
            }
        }

        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        ClusterScript.TryDeleteDirectory(_dataDirectory);
        throw new InvalidOperationException(
            $"Could not start a Redis Cluster for the tests (data directory {_dataDirectory}).{Environment.NewLine}{failures}");
    }

    public async Task DisposeAsync()
    {
        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        if (_multiplexer.IsValueCreated)
        {
            _multiplexer.Value.Dispose();
        }

        try
        {
            if (_ports.Length > 0 && Interlocked.Exchange(ref _stopped, 1) == 0)
            {
                var stop = await RunScriptAsync("stop", BasePort).ConfigureAwait(false);
                if (!stop.Succeeded)
                {
                    throw new InvalidOperationException($"Could not stop the Redis Cluster in {_dataDirectory}: {stop.Output}");
                }
            }
        }
        finally
        {
            ClusterScript.TryDeleteDirectory(_dataDirectory);
        }
    }

    /// <summary>
    /// A new connection to the cluster; the caller disposes it. <paramref name="extra"/> is appended
    /// to the configuration (e.g. <c>"syncTimeout=1000"</c>); a later option overrides an earlier one.
    /// </summary>
    public ConnectionMultiplexer Connect(string? extra = null)
    {
        // abortConnect=false: a node that is down (failover tests) must not fail the connect.
        var configuration = ConfigurationString + ",abortConnect=false,connectTimeout=5000,syncTimeout=5000,connectRetry=3";
        if (!string.IsNullOrWhiteSpace(extra))
        {
            configuration += "," + extra;
        }

        return ConnectionMultiplexer.Connect(configuration);
    }

    /// <summary>Runs <c>redis-cli -h 127.0.0.1 -p port args</c>; returns stdout, throws if the command fails or replies with an error.</summary>
    public async Task<string> RedisCliAsync(int port, params string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);

        // -e: exit non-zero on an error reply (ERR, MOVED, ...), which redis-cli otherwise prints with exit code 0.
        string[] arguments = ["-e", "-h", Host, "-p", port.ToString(CultureInfo.InvariantCulture), .. args];
        var result = await ExternalProcess.RunAsync("redis-cli", arguments, RedisCliTimeout).ConfigureAwait(false);
        if (!result.Succeeded)
        {
            throw new InvalidOperationException($"redis-cli {string.Join(' ', arguments)} failed: {result.Output}");
        }

        return result.StandardOutput;
    }

    /// <summary>
    /// The ports of the masters, sorted, as the first node that answers sees them now (CLUSTER NODES);
    /// masters the cluster marked <c>fail</c> are left out.
    /// </summary>
    public IReadOnlyList<int> MasterPorts()
    {
        var errors = new List<Exception>();
        foreach (var port in _ports)
        {
            try
            {
                return MastersIn(Multiplexer.GetServer(Host, port).ClusterNodesRaw()!);
            }
            catch (Exception exception) when (exception is RedisException or TimeoutException)
            {
                // That node is down (a failover test): ask the next one.
                errors.Add(exception);
            }
        }

        throw new AggregateException("No cluster node answered CLUSTER NODES.", errors);
    }

    /// <summary>The endpoint (host:port) of the master that serves <paramref name="slot"/>, as the fixture's multiplexer last saw the cluster.</summary>
    public string OwnerOfSlot(int slot)
        => Multiplexer.GetServer(Multiplexer.GetEndPoints()[0]).ClusterConfiguration!.GetBySlot(slot)!.EndPoint!.ToString()!;

    /// <inheritdoc cref="MasterPorts"/>
    public async Task<IReadOnlyList<int>> MasterPortsAsync()
    {
        var errors = new List<Exception>();
        foreach (var port in _ports)
        {
            try
            {
                // The client times async calls out only at its heartbeat: a deadline of our own.
                var nodes = await Multiplexer.GetServer(Host, port).ClusterNodesRawAsync().WaitAsync(RedisCallTimeout).ConfigureAwait(false);
                return MastersIn(nodes!);
            }
            catch (Exception exception) when (exception is RedisException or TimeoutException)
            {
                errors.Add(exception);
            }
        }

        throw new AggregateException("No cluster node answered CLUSTER NODES.", errors);
    }

    private static int[] MastersIn(string clusterNodes) =>
        ClusterNodeInfo.ParseAll(clusterNodes)
            .Where(node => node.IsMaster && !node.IsFailed)
            .Select(node => node.Port)
            .Order()
            .ToArray();

    private Task<ProcessResult> RunScriptAsync(string command, int basePort, params string[] extraArguments)
        => ClusterScript.RunAsync(command, basePort, _dataDirectory, extraArguments);

    private void OnProcessExit(object? sender, EventArgs e)
    {
        if (_ports.Length > 0 && Interlocked.Exchange(ref _stopped, 1) == 0)
        {
            // No async context here, and the process is going away: blocking is what we want.
            RunScriptAsync("stop", BasePort).GetAwaiter().GetResult();
            ClusterScript.TryDeleteDirectory(_dataDirectory);
        }
    }

}
