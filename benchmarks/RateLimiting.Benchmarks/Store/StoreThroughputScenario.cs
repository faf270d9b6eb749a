using System.Globalization;
using RateLimiting.Benchmarks.Infrastructure;
using RateLimiting.Benchmarks.Suite;
using RateLimiting.Redis.Store;
using StackExchange.Redis;

namespace RateLimiting.Benchmarks.Store;

/// <summary>
/// (a) Decisions per second through one store (one multiplexer, which pipelines every caller's
/// command on one connection per master), against redis-benchmark running EVALSHA of the same
/// script with the same arguments. Concurrency level L means L commands in flight: L async callers
/// on our side; L/6 pipelined commands on one connection per key, or L/6 connections per key
/// without pipelining, on redis-benchmark's. Every run starts from an empty cluster and makes the
/// same number of decisions, so the windows hold as many entries on both sides. Rounds alternate
/// the order of the series; each keeps its best run per level, and the best level counts.
/// </summary>
internal static class StoreThroughputScenario
{
    private const int WarmupDecisions = 20_000;

    /// <returns>The best rate of our store over many partitions (decisions/s), for (e).</returns>
    public static async Task<double> RunAsync(StoreWorkload workload, SuiteOptions options, ResultTable table)
    {
        var cluster = workload.Cluster;
        var deadline = options.StoreRunDeadline;
        var many = workload.ManyPartitions;
        var fixedKeys = workload.FixedPartitions;
        var targets = fixedKeys.Count;

        await using var store = workload.CreateStore();
        await using var unbatched = workload.CreateStore(batching: false);
        using var bare = await ConnectionMultiplexer.ConnectAsync(workload.RedisConfiguration);
        var database = bare.GetDatabase();
        var sha = Convert.FromHexString(workload.Sha);
        var bareKeys = many.Select(t => new RedisKey[] { t.EntriesKey, t.TotalsKey }).ToArray();
        var bareArguments = workload.ScriptArguments.Select(a => (RedisValue)a).ToArray();

        // Every series of ours calls through the same delegate, so that none pays for it alone.
        Func<long, ValueTask> Decisions(RedisRateLimitStore s, IReadOnlyList<ScriptTarget> partitions, Func<RedisRateLimitStore, string, ValueTask>? admit = null)
        {
            admit ??= StoreWorkload.AdmitAsync;
            return i => admit(s, partitions[(int)(i % partitions.Count)].Partition);
        }

        var series = new ThroughputSeries[]
        {
            new(
                $"ours: RedisRateLimitStore.DecideAsync, {many.Count:N0} partitions",
                "L async callers, one store",
                isOurs: true,
                isBaseline: false,
                (level, total) => ClosedLoopDriver.RunAsync(cluster, level, total, deadline, Decisions(store, many))),
            new(
                $"ours, two windows (10/s and 1,000/h), {many.Count:N0} partitions",
                "L async callers, one store; one sorted set, one script call per decision",
                isOurs: false,
                isBaseline: false,
                (level, total) => ClosedLoopDriver.RunAsync(cluster, level, total, deadline, Decisions(store, many, StoreWorkload.AdmitTwoWindowsAsync))),
            new(
                $"ours, Redis:Batching off, {many.Count:N0} partitions",
                "L async callers, one store, one call per decision",
                isOurs: false,
                isBaseline: false,
                (level, total) => ClosedLoopDriver.RunAsync(cluster, level, total, deadline, Decisions(unbatched, many))),
            new(
                $"redis-benchmark EVALSHA, {targets} keys, pipelined",
                $"{targets} processes x 1 connection x -P L/{targets}",
                isOurs: false,
                isBaseline: true,
                (level, total) => RedisBenchmarkTool.RunAsync(cluster, fixedKeys, 1, level / targets, total, workload.Sha, workload.ScriptArguments, deadline)),
            new(
                $"redis-benchmark EVALSHA, {targets} keys, connections",
                $"{targets} processes x L/{targets} connections x -P 1",
                isOurs: false,
                isBaseline: true,
                (level, total) => RedisBenchmarkTool.RunAsync(cluster, fixedKeys, level / targets, 1, total, workload.Sha, workload.ScriptArguments, deadline)),
            new(
                $"ours on redis-benchmark's {targets} keys",
                "L async callers, one store",
                isOurs: false,
                isBaseline: false,
                (level, total) => ClosedLoopDriver.RunAsync(cluster, level, total, deadline, Decisions(store, fixedKeys))),
            new(
                $"bare client: ScriptEvaluateAsync(sha), {many.Count:N0} partitions",
                "L async callers, one multiplexer",
                isOurs: false,
                isBaseline: false,
                (level, total) => ClosedLoopDriver.RunAsync(cluster, level, total, deadline, i => BareAdmitAsync(database, sha, bareKeys[i % bareKeys.Length], bareArguments))),
            new(
                "diagnostic: bare client with a deadline (Task.WaitAsync)",
                "L async callers, one multiplexer",
                isOurs: false,
                isBaseline: false,
                (level, total) => ClosedLoopDriver.RunAsync(cluster, level, total, deadline, i => BareAdmitAsync(database, sha, bareKeys[i % bareKeys.Length], bareArguments, deadline))),
        };

        // Connect, load the script, and compile until tiered compilation is done, before anything
        // is measured. Each from an empty cluster, as its measured runs: the two-window row's
        // hourly limit would count what the warm-ups before it left in the same partitions.
        foreach (var client in series.Where(s => !s.IsBaseline))
        {
            cluster.FlushAll();
            await SteadyState.WarmUpAsync(() => client.WarmUpAsync(16, WarmupDecisions), options.WarmupDeadline);
        }

        // Rounds in alternating order, so that a noisy moment hits no side more than the other;
        // each series keeps its best run per level.
        for (var round = 0; round < options.StoreRounds; round++)
        {
            foreach (var level in options.StoreConcurrencyLevels)
            {
                foreach (var client in round % 2 == 0 ? series : series.Reverse())
                {
                    cluster.FlushAll();
                    await client.RunAsync(level, options.StoreDecisionsPerRun);
                }
            }
        }

        var oursSeries = series.Single(s => s.IsOurs);
        var twoWindowsSeries = series.Single(s => s.Name.StartsWith("ours, two windows", StringComparison.Ordinal));
        var paired = await PairedAsync(cluster, options, oursSeries, twoWindowsSeries);

        cluster.FlushAll();
        foreach (var client in series)
        {
            Report(table, client);
        }

        var ours = oursSeries.Best;
        var baseline = series.Where(s => s.IsBaseline).Select(s => s.Best).Where(b => b is not null).MaxBy(b => b!.Value.Value.PerSecond);
        var bareBest = series.Single(s => s.Name.StartsWith("bare", StringComparison.Ordinal)).Best;
        var sameKeys = series.Single(s => s.Name.StartsWith("ours on", StringComparison.Ordinal)).Best;
        var alone = series.Single(s => s.Name.StartsWith("ours, Redis:Batching off", StringComparison.Ordinal)).Best;
        table.AddRatio("a", "ours / redis-benchmark (best of each)", Rate(ours), Rate(baseline), 0.9, "same script, arguments and in-flight commands; see README for fairness");
        table.AddRatio("a", "ours on the same keys / redis-benchmark", Rate(sameKeys), Rate(baseline), note: "identical Redis work: same keys, same entries per window");
        table.AddRatio("a", "ours / bare client (best of each)", Rate(ours), Rate(bareBest), note: "above 1: batching does more than one call per decision can");
        table.AddRatio("a", "ours / Batching off", Rate(ours), Rate(alone), note: "what batching gains");
        table.AddRatio("a", "two windows / one window", Rate(paired.TwoWindows.Best), Rate(paired.OneWindow.Best), 0.9, paired.Note);
        return Rate(ours);
    }

    /// <summary>
    /// One window and two, run in pairs at the level where one window did best, alternating which
    /// goes first: two runs seconds apart share the machine's noisy moments, which the rounds
    /// above, minutes apart, do not. Recorded apart from the rows, so that no row gets more chances
    /// than the others.
    /// </summary>
    private static async Task<(ThroughputSeries OneWindow, ThroughputSeries TwoWindows, string Note)> PairedAsync(BenchCluster cluster, SuiteOptions options, ThroughputSeries oneWindow, ThroughputSeries twoWindows)
    {
        var level = oneWindow.Best?.Key ?? options.StoreConcurrencyLevels[^1];
        ThroughputSeries[] pair = [oneWindow.Copy(), twoWindows.Copy()];
        for (var round = 0; round < options.PairedRounds; round++)
        {
            foreach (var client in round % 2 == 0 ? pair : pair.Reverse())
            {
                cluster.FlushAll();
                await client.RunAsync(level, options.StoreDecisionsPerRun);
            }
        }

        var note = string.Create(
            CultureInfo.InvariantCulture,
            $"best of {options.PairedRounds} paired runs each at L={level}: {Rate(pair[1].Best):N0} against {Rate(pair[0].Best):N0}; same store, callers, partitions and decisions; one script call decides both windows");
        return (pair[0], pair[1], note);
    }

    private static double Rate(KeyValuePair<int, LoadResult>? result) => result?.Value.PerSecond ?? 0;

    private static void Report(ResultTable table, ThroughputSeries series)
    {
        var perLevel = string.Join(", ", series.Results.Select(r => string.Create(CultureInfo.InvariantCulture, $"L={r.Key}: {r.Value.PerSecond:N0}")))
            + (series.Failures > 0 ? $"; {series.Failures} operations FAILED" : string.Empty);
        var best = series.Best;
        var cpu = best is { Value: var result }
            ? string.Create(CultureInfo.InvariantCulture, $"; at best: client CPU {Micros(result.ClientCpuMicrosecondsPerOperation)}, Redis CPU {result.RedisCpuMicrosecondsPerOperation:0.0} µs/decision")
            : string.Empty;
        table.Add("a", series.Name, best?.Value.PerSecond ?? 0, "decisions/s", $"{series.Shape}; {perLevel}{cpu}");
    }

    private static string Micros(double? value) => value is { } v ? v.ToString("0.0", CultureInfo.InvariantCulture) : "?";

    /// <summary>The bare client's decision, checked like ours so that both sides pay for an async wrapper.</summary>
    private static async ValueTask BareAdmitAsync(IDatabase database, byte[] sha, RedisKey[] keys, RedisValue[] arguments, TimeSpan? deadline = null)
    {
        var call = database.ScriptEvaluateAsync(sha, keys, arguments);
        var reply = (RedisResult[])(await (deadline is { } bound ? call.WaitAsync(bound) : call))!;
        if ((long)reply[0] != 0)
        {
            throw new InvalidOperationException("A decision under the limit was a rejection.");
        }
    }
}
