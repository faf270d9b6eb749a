using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using RateLimiting.Redis.Store;
using RateLimiting.Store;
using RateLimiting.Testing;

namespace RateLimiting.Redis.Tests.Infrastructure;

/// <summary>
/// The production set-up, locally: a TLS-only, password-protected Redis Cluster (3 masters + 3
/// replicas on 127.0.0.1; <c>eng/redis-cluster.sh start --tls --password</c>) whose certificate is
/// for <see cref="TlsHost"/> only (no IP SAN), issued by a private CA the machine does not trust.
/// Clients connect to the IPs, which is what the cluster's topology and MOVED replies name, and
/// validate the certificate against <c>sslHost</c>. Started on free ports with its files (the CA
/// key included) in a temporary directory outside the repository, stopped and deleted at the end.
/// A cluster that cannot start fails the tests; it never skips them. Administration goes through
/// <c>redis-cli --tls</c>, independent of the client under test.
/// </summary>
public sealed class TlsRedisClusterFixture : IAsyncLifetime
{
    public const int NodeCount = ClusterScript.NodeCount;

    /// <summary>The name on the servers' certificate.</summary>
    public const string TlsHost = "redis.test";

    private const string Host = "127.0.0.1";
    private const int StartAttempts = 3;

    private static readonly TimeSpan RedisCliTimeout = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan NodeDeadline = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan ConnectDeadline = TimeSpan.FromSeconds(60);

    private readonly string _dataDirectory = Path.Combine(Path.GetTempPath(), "rl-tls-" + Guid.NewGuid().ToString("N"));
    private int[] _ports = [];
    private int _stopped;

    /// <summary>A fresh random password per run (letters and digits: safe in a configuration string).</summary>
    public string Password { get; } = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));

    public int BasePort { get; private set; }

    public IReadOnlyList<int> Ports => _ports;

    /// <summary>The private CA's certificate (PEM), for <c>RateLimiting:Redis:TrustedCaCertificatePath</c>.</summary>
    public string CaCertificatePath => Path.Combine(_dataDirectory, "tls", "ca.crt");

    /// <summary>The six IP endpoints, e.g. <c>127.0.0.1:20000,127.0.0.1:20001,...</c>.</summary>
    public string Endpoints => string.Join(',', _ports.Select(port => Host + ":" + port.ToString(CultureInfo.InvariantCulture)));

    /// <summary>What the script printed: the configuration string a user writes for this cluster.</summary>
    public string ConfigurationString { get; private set; } = string.Empty;

    public async Task InitializeAsync()
    {
        AppDomain.CurrentDomain.ProcessExit += OnProcessExit;
        var failures = new StringBuilder();
        for (var attempt = 1; attempt <= StartAttempts; attempt++)
        {
            var basePort = ClusterScript.PickFreeBasePort();
            var start = await RunScriptAsync(
                "start",
                basePort,
                "--tls",
                "--password",
                Password,
                "--owner-pid",
                Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
            if (start.Succeeded)
            {
                BasePort = basePort;
                _ports = Enumerable.Range(basePort, NodeCount).ToArray();
                ConfigurationString = start.StandardOutput.Trim();

                // The process's first TLS connections are slow (OpenSSL, chain building, JIT):
                // pay for them here, not in the first test's deadline.
                try
                {
                    await using var store = new RedisRateLimitStore(StoreOptions());
                    await FirstDecisionAsync(store, new RateLimitRequest("warm-up", "warm-up", 1, TimeSpan.FromSeconds(1), 0));
                }
                catch
                {
                    await DisposeAsync();
                    throw;
                }

                return;
            }

            failures.AppendLine(CultureInfo.InvariantCulture, $"=== attempt {attempt}: eng/redis-cluster.sh start --tls --base-port {basePort}, {start.Output.Replace(Password, "***", StringComparison.Ordinal)}");
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

        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        ClusterScript.TryDeleteDirectory(_dataDirectory);
        throw new InvalidOperationException($"Could not start a TLS Redis Cluster for the tests (data directory {_dataDirectory}).{Environment.NewLine}{failures}");
    }

    public async Task DisposeAsync()
    {
        AppDomain.CurrentDomain.ProcessExit -= OnProcessExit;
        try
        {
            if (_ports.Length > 0 && Interlocked.Exchange(ref _stopped, 1) == 0)
            {
                var stop = await RunScriptAsync("stop", BasePort);
                if (!stop.Succeeded)
                {
                    throw new InvalidOperationException($"Could not stop the TLS Redis Cluster in {_dataDirectory}: {stop.Output}");
                }
            }
        }
        finally
        {
            ClusterScript.TryDeleteDirectory(_dataDirectory);
        }
    }

    /// <summary>
    /// A configuration string for this cluster: the IP endpoints, then <paramref name="options"/>
    /// (e.g. <c>ssl=true,sslHost=redis.test,password=…</c>), then short timeouts for the tests.
    /// </summary>
    public string Configuration(string options) => $"{Endpoints},{options},abortConnect=false,connectTimeout=5000,syncTimeout=5000";

    /// <summary>The options of a store that connects as a user would: TLS, sslHost, the password and the private CA.</summary>
    public RedisStoreOptions StoreOptions(string? keyPrefix = null) => new()
    {
        Configuration = Configuration($"ssl=true,sslHost={TlsHost},password={Password}"),
        TrustedCaCertificatePath = CaCertificatePath,
        KeyPrefix = keyPrefix ?? "tls" + Guid.NewGuid().ToString("N")[..12],
        OperationTimeout = TimeSpan.FromSeconds(10),
    };

    /// <summary>
    /// The first decision of a new store: retried while its multiplexer is still connecting (the
    /// first calls of a fresh store may fail fast with "No connection is available" until its TLS
    /// connections are up; the subject of these tests is what happens once they are).
    /// </summary>
    public static async Task<RateLimitDecision> FirstDecisionAsync(RedisRateLimitStore store, RateLimitRequest request)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        while (true)
        {
            try
            {
                return await store.DecideAsync(request, CancellationToken.None);
            }
            catch (Exception ex) when (ex is StackExchange.Redis.RedisException or TimeoutException && started.Elapsed < ConnectDeadline)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(100));
            }
        }
    }

    /// <summary>Runs <c>redis-cli --tls … -p port args</c>; returns stdout, throws if the command fails or replies with an error.</summary>
    public async Task<string> RedisCliAsync(int port, params string[] args)
    {
        ArgumentNullException.ThrowIfNull(args);

        // -e: exit non-zero on an error reply. The password on the command line is a test's
        // throw-away one; eng/redis-cluster.sh itself passes it through REDISCLI_AUTH.
        string[] arguments =
        [
            "-e", "--tls", "--cacert", CaCertificatePath, "--sni", TlsHost, "--no-auth-warning", "-a", Password,
            "-h", Host, "-p", port.ToString(CultureInfo.InvariantCulture), .. args,
        ];
        var result = await ExternalProcess.RunAsync("redis-cli", arguments, RedisCliTimeout);
        if (!result.Succeeded)
        {
            throw new InvalidOperationException($"redis-cli -p {port} {string.Join(' ', args)} failed: {result.Output}");
        }

        return result.StandardOutput;
    }

    /// <summary>CLUSTER NODES as the first node that answers sees it.</summary>
    public async Task<IReadOnlyList<ClusterNodeInfo>> NodesAsync()
    {
        var errors = new List<Exception>();
        foreach (var port in _ports)
        {
            try
            {
                return ClusterNodeInfo.ParseAll(await RedisCliAsync(port, "CLUSTER", "NODES"));
            }
            catch (InvalidOperationException ex)
            {
                errors.Add(ex); // that node is down (the failover test): ask the next one
            }
        }

        throw new AggregateException("No node answered CLUSTER NODES.", errors);
    }

    /// <summary>The masters the cluster does not consider failed, by port.</summary>
    public async Task<IReadOnlyList<ClusterNodeInfo>> MastersAsync()
        => [.. (await NodesAsync()).Where(node => node.IsMaster && !node.IsFailed).OrderBy(node => node.Port)];

    /// <summary>Kills the node on <paramref name="port"/> with SIGKILL, as a crash would, and waits until it is gone.</summary>
    public Task KillNodeAsync(int port) => ClusterScript.KillNodeAsync(_dataDirectory, port, NodeDeadline);

    /// <summary>Starts the node on <paramref name="port"/> again from its own config and nodes file (it rejoins as a replica).</summary>
    public async Task RestartNodeAsync(int port)
    {
        var start = await ExternalProcess.RunAsync("redis-server", [Path.Combine(_dataDirectory, $"node-{port}.conf")], NodeDeadline);
        if (!start.Succeeded)
        {
            throw new InvalidOperationException($"redis-server did not restart on port {port}: {start.Output}");
        }
    }

    /// <summary>
    /// Waits until the replica on <paramref name="port"/> has synchronized with its master
    /// (<c>master_link_status:up</c>): one that never did refuses to fail over. A fresh cluster's
    /// first (diskless) sync starts a few seconds after the script reports it ready.
    /// </summary>
    public Task WaitUntilReplicaSyncedAsync(int port, TimeSpan deadline)
        => Poll.UntilAsync(
            async () => (await RedisCliAsync(port, "INFO", "replication")).Contains("master_link_status:up", StringComparison.Ordinal),
            synced => synced,
            deadline);

    /// <summary>Waits until every node reports a healthy 3 + 3 cluster (<c>eng/redis-cluster.sh status</c>, which reuses the TLS settings).</summary>
    public Task WaitUntilHealthyAsync(TimeSpan deadline)
        => Poll.UntilAsync(async () => (await RunScriptAsync("status", BasePort)).Succeeded, healthy => healthy, deadline);


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
