using System.Diagnostics;
using System.Globalization;
using RateLimiting.Testing;

namespace RateLimiting.Benchmarks.Infrastructure;

/// <summary>
/// The baseline: <c>redis-benchmark</c> running <c>EVALSHA</c> of the store's script with the store's
/// arguments. <c>--cluster</c> pins each master's clients to a single slot, so instead one process
/// per window (a fixed set of hash tags, each on its own master) runs against its master, all at
/// once; the rate is all their requests over the time from the first start to the last exit.
/// </summary>
internal static class RedisBenchmarkTool
{
    public static async Task<LoadResult> RunAsync(
        BenchCluster cluster,
        IReadOnlyList<ScriptTarget> targets,
        int connectionsPerTarget,
        int pipeline,
        long total,
        string sha,
        IReadOnlyList<long> scriptArguments,
        TimeSpan timeout)
    {
        // A multiple of connections x pipeline, so that each process runs exactly this many.
        var batch = (long)connectionsPerTarget * pipeline;
        var perTarget = Math.Max(batch, total / targets.Count / batch * batch);
        var redisCpuBefore = cluster.CpuSeconds();
        var childCpuBefore = ChildProcessCpu.Read();
        var started = Stopwatch.GetTimestamp();
        var running = targets.Select(target => ExternalProcess.Start("redis-benchmark",
        [
            "-h", target.Master.Address.ToString(),
            "-p", target.Master.Port.ToString(CultureInfo.InvariantCulture),
            "-c", connectionsPerTarget.ToString(CultureInfo.InvariantCulture),
            "-P", pipeline.ToString(CultureInfo.InvariantCulture),
            "-n", perTarget.ToString(CultureInfo.InvariantCulture),
            "--csv",
            "EVALSHA", sha, "2", target.EntriesKey, target.TotalsKey,
            .. scriptArguments.Select(a => a.ToString(CultureInfo.InvariantCulture)),
        ])).ToArray();

        var results = new List<ProcessResult>();
        foreach (var process in running)
        {
            results.Add(await process.WaitAsync(timeout));
        }

        var elapsed = Stopwatch.GetElapsedTime(started);
        var redisCpu = TimeSpan.FromSeconds(cluster.CpuSeconds() - redisCpuBefore);
        var clientCpu = ChildProcessCpu.Read() - childCpuBefore;
        var failed = 0L;
        foreach (var result in results)
        {
            // redis-benchmark 7 exits at the first error reply (NOSCRIPT, CROSSSLOT, MOVED): a run
            // with an error has no valid rate.
            if (!result.Succeeded || !result.StandardOutput.Contains("\"EVALSHA", StringComparison.Ordinal))
            {
                failed += perTarget;
                Console.Error.WriteLine($"bench: redis-benchmark failed: {result.Output}");
            }
        }

        return new LoadResult(perTarget * targets.Count, failed, elapsed, clientCpu, redisCpu);
    }

    public static async Task<string> VersionAsync()
    {
        var result = await ExternalProcess.RunAsync("redis-benchmark", ["--version"], TimeSpan.FromSeconds(10));
        return result.StandardOutput.Trim();
    }
}
