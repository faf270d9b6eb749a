using System.Diagnostics;
using System.Globalization;
using RateLimiting.Testing;

namespace RateLimiting.Benchmarks.Infrastructure;

/// <summary>
/// Turns the bench cluster into a black hole and back: every node frozen with SIGSTOP, then
/// continued with SIGCONT. A frozen node keeps its connections and its listening socket, so a
/// client sees no reset and no refusal: the kernel takes its commands (and even new connections,
/// into the backlog) and nothing ever answers, the hardest way for a server to fail. Masters and
/// replicas are frozen together, so that no node is left running to notice a silent master and
/// fail it over.
/// </summary>
/// <remarks>
/// The nodes are found through the cluster itself (<c>INFO server</c> names each node's process)
/// and checked against their process titles, so only this run's nodes are ever signalled, never
/// another cluster on the same machine (the tests start their own). eng/bench.sh continues them
/// too when it stops the cluster, for a harness killed while they were frozen.
/// </remarks>
internal sealed class ClusterBlackHole
{
    private static readonly TimeSpan SignalTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan StateDeadline = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan StatePollInterval = TimeSpan.FromMilliseconds(5);

    private readonly string[] _pids;

    private ClusterBlackHole(string[] pids) => _pids = pids;

    /// <summary>Gets the nodes' process ids, for the log.</summary>
    public string ProcessIds => string.Join(' ', _pids);

    /// <summary>Finds the process of every node while the cluster still answers.</summary>
    public static ClusterBlackHole Find(BenchCluster cluster)
    {
        var pids = cluster.ProcessIds();
        for (var i = 0; i < cluster.Nodes.Count; i++)
        {
            // eng/redis-cluster.sh puts the listening address in the title ("redis-server 127.0.0.1:PORT [cluster] …/node-PORT.conf").
            var title = ProcessTitle(pids[i]);
            var address = $"{cluster.Nodes[i].Address}:{cluster.Nodes[i].Port} ";
            if (!title.Contains("redis-server", StringComparison.Ordinal) || !title.Contains(address, StringComparison.Ordinal))
            {
                throw new InvalidOperationException($"Process {pids[i]}, which node {cluster.Nodes[i]} names as its own, is '{title}', not redis-server on {address.TrimEnd()}.");
            }
        }

        return new ClusterBlackHole([.. pids.Select(pid => pid.ToString(CultureInfo.InvariantCulture))]);
    }

    /// <summary>Sends SIGSTOP to every node (one <c>kill</c>, so they stop microseconds apart) and waits until all are stopped.</summary>
    public Task FreezeAsync() => SignalAsync("STOP", stopped: true);

    /// <summary>Sends SIGCONT to every node and waits until none is stopped. Harmless on nodes that are not frozen.</summary>
    public Task ThawAsync() => SignalAsync("CONT", stopped: false);

    private async Task SignalAsync(string signal, bool stopped)
    {
        var result = await ExternalProcess.RunAsync("kill", ["-" + signal, .. _pids], SignalTimeout);
        if (!result.Succeeded)
        {
            throw new InvalidOperationException($"kill -{signal} {ProcessIds} failed: {result.Output}");
        }

        // The signal is sent when kill returns, but a node changes state only once it is scheduled.
        var started = Stopwatch.GetTimestamp();
        while (_pids.Any(pid => IsStopped(pid) != stopped))
        {
            if (Stopwatch.GetElapsedTime(started) > StateDeadline)
            {
                throw new InvalidOperationException($"After kill -{signal}, not every node of {ProcessIds} was {(stopped ? "stopped" : "running")} within {StateDeadline.TotalSeconds:0} s.");
            }

            await Task.Delay(StatePollInterval);
        }
    }

    /// <summary>Whether the process is in state T (stopped by a signal), from <c>/proc/PID/stat</c>.</summary>
    private static bool IsStopped(string pid)
    {
        var stat = File.ReadAllText($"/proc/{pid}/stat");
        // The command name (field 2) may hold spaces and parentheses; the state follows the last ')'.
        return stat[stat.LastIndexOf(')') + 2] == 'T';
    }

    private static string ProcessTitle(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' ');
        }
        catch (IOException)
        {
            return string.Empty;
        }
    }
}
