using System.Diagnostics;
using System.Globalization;
using RateLimiting.Benchmarks.Infrastructure;
using RateLimiting.Benchmarks.Suite;
using StackExchange.Redis;

namespace RateLimiting.Benchmarks.Store;

/// <summary>
/// (e) Decision latency under a steady load of half the maximum rate of (a). Open loop: decisions
/// start on a schedule, whether or not earlier ones have completed, so a slow moment shows as
/// latency instead of slowing the load down. A dedicated thread starts the decisions due every
/// millisecond or so (Thread.Sleep(1) granularity), for a bounded time. The bare client, the same
/// script by SHA at the same rate, is the baseline: what StackExchange.Redis itself gives.
/// </summary>
internal static class OpenLoopLatencyScenario
{
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(30);

    public static async Task RunAsync(StoreWorkload workload, SuiteOptions options, double maxRate, ResultTable table)
    {
        if (maxRate <= 0)
        {
            table.Add(new ResultRow("e", "decision latency", "n/a", string.Empty, string.Empty, "no maximum rate from (a)"));
            return;
        }

        var partitions = workload.ManyPartitions;
        await using (var store = workload.CreateStore())
        {
            var latencies = await MeasureAsync(workload, i => StoreWorkload.AdmitAsync(store, partitions[(int)(i % partitions.Count)].Partition), options, maxRate);
            table.Add("e", "decision latency p50", Millis(Percentile(latencies, 0.50)), "ms", latencies.Note, "0.000");
            table.Add("e", "decision latency p99", Millis(Percentile(latencies, 0.99)), "ms", string.Empty, "0.000");
            table.Add("e", "decision latency p99.9", Millis(Percentile(latencies, 0.999)), "ms", string.Empty, "0.000");
            table.Add("e", "decision latency max", Millis(latencies.Sorted[^1]), "ms", string.Empty, "0.000");
        }

        using var bare = await ConnectionMultiplexer.ConnectAsync(workload.RedisConfiguration);
        var database = bare.GetDatabase();
        var sha = Convert.FromHexString(workload.Sha);
        var keys = partitions.Select(t => new RedisKey[] { t.EntriesKey, t.TotalsKey }).ToArray();
        var arguments = workload.ScriptArguments.Select(a => (RedisValue)a).ToArray();
        var baseline = await MeasureAsync(workload, async i => await database.ScriptEvaluateAsync(sha, keys[i % keys.Length], arguments), options, maxRate);
        table.Add("e", "baseline: bare client p50 / p99 / max, same rate", Millis(Percentile(baseline, 0.99)), "ms (p99)", string.Create(CultureInfo.InvariantCulture,
            $"p50 {Millis(Percentile(baseline, 0.50)):0.000}, p99 {Millis(Percentile(baseline, 0.99)):0.000}, max {Millis(baseline.Sorted[^1]):0.000} ms; {baseline.Note}"), "0.000");
    }

    private static async Task<Latencies> MeasureAsync(StoreWorkload workload, Func<long, ValueTask> decide, SuiteOptions options, double maxRate)
    {
        var rate = maxRate / 2;
        var count = (long)(rate * options.OpenLoopDuration.TotalSeconds);
        var cluster = workload.Cluster;
        cluster.FlushAll();
        await ClosedLoopDriver.RunAsync(cluster, 16, 3_000, TimeSpan.FromSeconds(30), decide);

        var latencies = new long[count];
        var failed = 0L;
        var outstanding = count + 1; // + 1 for the dispatcher until it has started them all
        var maxLag = 0L;
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var started = 0L;

        async Task OneAsync(long index)
        {
            var start = Stopwatch.GetTimestamp();
            try
            {
                await decide(index);
                latencies[index] = Stopwatch.GetTimestamp() - start;
            }
#pragma warning disable CA1031 // Counted and reported; the run goes on.
            catch (Exception)
#pragma warning restore CA1031
            {
                Interlocked.Increment(ref failed);
                latencies[index] = Stopwatch.GetTimestamp() - start;
            }

            if (Interlocked.Decrement(ref outstanding) == 0)
            {
                done.TrySetResult();
            }
        }

        var gcPauseBefore = GC.GetTotalPauseDuration();
        var gcBefore = Enumerable.Range(0, 3).Select(GC.CollectionCount).ToArray();
        var dispatcher = new Thread(() =>
        {
            started = Stopwatch.GetTimestamp();
            var ticksPerDecision = Stopwatch.Frequency / rate;
            for (var next = 0L; next < count;)
            {
                var now = Stopwatch.GetTimestamp();
                var due = Math.Min(count, (long)((now - started) / ticksPerDecision) + 1);
                maxLag = Math.Max(maxLag, now - (started + (long)(next * ticksPerDecision)));
                for (; next < due; next++)
                {
                    _ = OneAsync(next);
                }

                Thread.Sleep(1);
            }

            if (Interlocked.Decrement(ref outstanding) == 0)
            {
                done.TrySetResult();
            }
        })
        {
            IsBackground = true,
            Name = "open-loop dispatcher",
        };
        dispatcher.Start();
        await done.Task.WaitAsync(options.OpenLoopDuration + DrainTimeout);
        var elapsed = Stopwatch.GetElapsedTime(started);
        cluster.FlushAll();

        var gcPause = GC.GetTotalPauseDuration() - gcPauseBefore;
        var collections = Enumerable.Range(0, 3).Select(g => GC.CollectionCount(g) - gcBefore[g]).ToArray();
        Array.Sort(latencies);
        var note = string.Create(CultureInfo.InvariantCulture,
            $"open loop at {rate:N0}/s (half of {maxRate:N0}) for {options.OpenLoopDuration.TotalSeconds:0} s: {count:N0} decisions in {elapsed.TotalSeconds:0.0} s, {failed} failed; dispatcher at most {Millis(maxLag):0.0} ms late; GCs gen0/1/2 {collections[0]}/{collections[1]}/{collections[2]}, paused {gcPause.TotalMilliseconds:0} ms in all");
        return new Latencies(latencies, note);
    }

    private static long Percentile(Latencies latencies, double quantile)
        => latencies.Sorted[(int)Math.Min(latencies.Sorted.Length - 1, Math.Ceiling(quantile * latencies.Sorted.Length) - 1)];

    private static double Millis(long ticks) => ticks * 1000.0 / Stopwatch.Frequency;
}
