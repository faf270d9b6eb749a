using System.Globalization;
using System.Net;
using StackExchange.Redis;

namespace RateLimiting.Benchmarks.Infrastructure;

/// <summary>
/// The harness's own admin connection to the cluster that eng/bench.sh started: finds the masters,
/// loads the script, flushes between measurements, reads server CPU time and key memory, and tells
/// which process each node is and which nodes are masters now.
/// </summary>
internal sealed class BenchCluster : IDisposable
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(30);

    private readonly ConnectionMultiplexer _multiplexer;

    private BenchCluster(ConnectionMultiplexer multiplexer, IReadOnlyList<IPEndPoint> masters, IReadOnlyList<IPEndPoint> nodes)
    {
        _multiplexer = multiplexer;
        Masters = masters;
        Nodes = nodes;
    }

    /// <summary>Gets the master nodes, sorted by port.</summary>
    public IReadOnlyList<IPEndPoint> Masters { get; }

    /// <summary>Gets every node, masters and replicas, sorted by port.</summary>
    public IReadOnlyList<IPEndPoint> Nodes { get; }

    public IDatabase Database => _multiplexer.GetDatabase();

    public static BenchCluster Connect(string configuration)
    {
        var options = ConfigurationOptions.Parse(configuration);
        options.AllowAdmin = true;
        options.AbortOnConnectFail = true;
        options.SyncTimeout = (int)CallTimeout.TotalMilliseconds;
        options.ConnectTimeout = 10_000;
        var multiplexer = ConnectionMultiplexer.Connect(options);
        var nodes = multiplexer.GetEndPoints().OfType<IPEndPoint>().OrderBy(e => e.Port).ToArray();
        var masters = nodes.Where(e => !multiplexer.GetServer(e).IsReplica).ToArray();
        if (masters.Length == 0)
        {
            multiplexer.Dispose();
            throw new InvalidOperationException("The cluster has no master.");
        }

        return new BenchCluster(multiplexer, masters, nodes);
    }

    public string RedisVersion => _multiplexer.GetServer(Masters[0]).Version.ToString();

    /// <summary>Loads <paramref name="source"/> on every master and returns its SHA1 (hex).</summary>
    public string LoadScript(string source)
    {
        string? sha = null;
        foreach (var master in Masters)
        {
            var hash = Convert.ToHexStringLower(_multiplexer.GetServer(master).ScriptLoad(source));
            if (sha is not null && sha != hash)
            {
                throw new InvalidOperationException($"Masters disagree on the script's SHA1: {sha} and {hash}.");
            }

            sha = hash;
        }

        return sha!;
    }

    /// <summary>Empties every master (replicas follow), so that each measurement starts from the same state.</summary>
    public void FlushAll()
    {
        foreach (var master in Masters)
        {
            _multiplexer.GetServer(master).FlushAllDatabases();
        }
    }

    /// <summary>Gets the CPU time (user + system) all nodes have used so far, replicas included.</summary>
    public double CpuSeconds()
    {
        var total = 0.0;
        foreach (var node in Nodes)
        {
            foreach (var line in _multiplexer.GetServer(node).InfoRaw("cpu")!.Split('\n'))
            {
                var parts = line.Trim().Split(':');
                if (parts.Length == 2 && parts[0] is "used_cpu_sys" or "used_cpu_user")
                {
                    total += double.Parse(parts[1], CultureInfo.InvariantCulture);
                }
            }
        }

        return total;
    }

    /// <summary>Gets the process id of every node (<c>INFO server</c>), in the order of <see cref="Nodes"/>.</summary>
    public IReadOnlyList<int> ProcessIds()
        => [.. Nodes.Select(node => int.Parse(InfoField(node, "server", "process_id"), CultureInfo.InvariantCulture))];

    /// <summary>Gets the nodes that are masters now, each asked for its <c>ROLE</c>, sorted by port: after a failover they differ from <see cref="Masters"/>.</summary>
    public IReadOnlyList<IPEndPoint> CurrentMasters()
        => [.. Nodes.Where(node => ((RedisResult[]?)_multiplexer.GetServer(node).Execute("ROLE"))?[0].ToString() == "master")];

    /// <summary>Gets the hash slot of <paramref name="key"/>.</summary>
    public int Slot(string key) => _multiplexer.HashSlot(key);

    /// <summary>Gets the index in <see cref="Masters"/> of the master that owns <paramref name="key"/>'s slot.</summary>
    public int MasterOf(string key)
    {
        var slot = _multiplexer.HashSlot(key);
        var owner = _multiplexer.GetServer(Masters[0]).ClusterConfiguration?.GetBySlot(slot)?.EndPoint as IPEndPoint
            ?? throw new InvalidOperationException($"No node owns slot {slot}.");
        for (var i = 0; i < Masters.Count; i++)
        {
            if (Masters[i].Equals(owner))
            {
                return i;
            }
        }

        throw new InvalidOperationException($"Slot {slot} belongs to {owner}, which is not a known master.");
    }

    /// <summary>Gets the bytes Redis uses for <paramref name="key"/>, counting every element (<c>MEMORY USAGE key SAMPLES 0</c>).</summary>
    public long MemoryUsage(string key)
        => (long)Database.Execute("MEMORY", "USAGE", (RedisKey)key, "SAMPLES", "0");

    /// <summary>Gets the encoding Redis chose for <paramref name="key"/> (listpack, skiplist, ...).</summary>
    public string Encoding(string key) => (string?)Database.Execute("OBJECT", "ENCODING", (RedisKey)key) ?? "none";

    public void Dispose() => _multiplexer.Dispose();

    private string InfoField(IPEndPoint node, string section, string field)
    {
        foreach (var line in _multiplexer.GetServer(node).InfoRaw(section)!.Split('\n'))
        {
            var parts = line.Trim().Split(':', 2);
            if (parts.Length == 2 && parts[0] == field)
            {
                return parts[1];
            }
        }

        throw new InvalidOperationException($"INFO {section} of {node} has no {field}.");
    }
}
