using System.Diagnostics;
using RateLimiting.Benchmarks.Http;
using RateLimiting.Benchmarks.Infrastructure;
using RateLimiting.Benchmarks.Store;

namespace RateLimiting.Benchmarks.Suite;

/// <summary>Runs measurements (a) to (f) against one cluster and prints the environment and one table.</summary>
internal static class SuiteRunner
{
    public static async Task<int> RunAsync(SuiteOptions options)
    {
        var started = Stopwatch.GetTimestamp();
        using var cluster = BenchCluster.Connect(options.RedisConfiguration);
        var environment = await EnvironmentInfo.DescribeAsync(cluster, options.Pinned);
        foreach (var line in environment)
        {
            Console.Error.WriteLine("bench: " + line);
        }

        var table = new ResultTable();
        var workload = new StoreWorkload(cluster, options.RedisConfiguration);
        Console.Error.WriteLine($"bench: {workload.ManyPartitions.Count:N0} partitions per master: {workload.Spread()}; redis-benchmark keys: {string.Join(", ", workload.FixedPartitions.Select(t => $"{t.EntriesKey}@{t.Master.Port}"))}");

        var maxRate = 0.0;
        if (options.Runs('a') || options.Runs('e'))
        {
            maxRate = await StoreThroughputScenario.RunAsync(workload, options, table);
        }

        if (options.Runs('b') || options.Runs('c'))
        {
            await HttpThroughputScenario.RunAsync(options.RedisConfiguration, cluster, options, table);
        }

        if (options.Runs('d'))
        {
            await AllocationScenario.RunAsync(workload, options, table);
        }

        if (options.Runs('e'))
        {
            await OpenLoopLatencyScenario.RunAsync(workload, options, maxRate, table);
        }

        // Last: it freezes every node, and whatever the cluster and the clients went through, no
        // later measurement should start from it.
        if (options.Runs('f'))
        {
            await BlackHoleScenario.RunAsync(options.RedisConfiguration, cluster, options, table);
        }

        Console.WriteLine();
        Console.WriteLine("RateLimiting benchmarks" + (options.Quick ? " (--quick: short runs, figures are indicative only)" : string.Empty));
        foreach (var line in environment)
        {
            Console.WriteLine(line);
        }

        Console.WriteLine($"run:       {Stopwatch.GetElapsedTime(started).TotalSeconds:0} s; ratios compare figures measured in this run on this cluster");
        Console.WriteLine();
        Console.Write(table.Render());
        return table.Rows.Any(r => r.Note.Contains("WARNING", StringComparison.Ordinal) || r.Note.Contains("FAILED", StringComparison.Ordinal)) ? 1 : 0;
    }
}
