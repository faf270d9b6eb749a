using System.Globalization;
using RateLimiting.Benchmarks.Suite;
using RateLimiting.Redis.Store;
using StackExchange.Redis;

namespace RateLimiting.Benchmarks.Store;

/// <summary>
/// (d) What a decision costs in memory: bytes allocated in this process per decision (ours, and a
/// bare StackExchange.Redis call measured the same way, so that our share shows), and bytes of
/// Redis memory per admitted request.
/// </summary>
internal static class AllocationScenario
{
    private const int Warmup = 2_000;

    private static readonly TimeSpan Deadline = TimeSpan.FromSeconds(10);

    public static async Task RunAsync(StoreWorkload workload, SuiteOptions options, ResultTable table)
    {
        var cluster = workload.Cluster;
        var count = options.AllocationDecisions;
        cluster.FlushAll();
        await using var store = workload.CreateStore();
        using var bare = await ConnectionMultiplexer.ConnectAsync(workload.RedisConfiguration);
        var database = bare.GetDatabase();
        var sha = Convert.FromHexString(workload.Sha);
        var partitions = workload.ManyPartitions;
        var requests = partitions.Select(p => StoreWorkload.Request(p.Partition)).ToArray();
        var keys = partitions.Select(p => new RedisKey[] { p.EntriesKey, p.TotalsKey }).ToArray();
        var arguments = workload.ScriptArguments.Select(a => (RedisValue)a).ToArray();

        // Both loops are written out, not passed as lambdas, so that the harness adds no allocation
        // per call; the async method's own state machine is allocated once, at its first await.
        for (var i = 0; i < Warmup; i++)
        {
            await store.DecideAsync(requests[i % requests.Length], CancellationToken.None);
            await database.ScriptEvaluateAsync(sha, keys[i % keys.Length], arguments);
            await database.ScriptEvaluateAsync(sha, keys[i % keys.Length], arguments).WaitAsync(Deadline);
        }

        var before = GC.GetTotalAllocatedBytes(precise: true);
        for (var i = 0; i < count; i++)
        {
            await store.DecideAsync(requests[i % requests.Length], CancellationToken.None);
        }

        var ours = (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)count;

        before = GC.GetTotalAllocatedBytes(precise: true);
        for (var i = 0; i < count; i++)
        {
            await database.ScriptEvaluateAsync(sha, keys[i % keys.Length], arguments);
        }

        var client = (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)count;

        // The store bounds every call with a deadline (the client checks async timeouts only at its 1 s heartbeat); this is what
        // Task.WaitAsync with a timeout adds to a bare call.
        before = GC.GetTotalAllocatedBytes(precise: true);
        for (var i = 0; i < count; i++)
        {
            await database.ScriptEvaluateAsync(sha, keys[i % keys.Length], arguments).WaitAsync(Deadline);
        }

        var bounded = (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)count;
        var layout = KeyLayoutBytes(partitions.Select(p => p.Partition).ToArray(), count);

        var how = string.Create(CultureInfo.InvariantCulture, $"{count:N0} sequential awaits; GC.GetTotalAllocatedBytes(precise) of all threads");
        table.Add("d", "allocated per decision: ours (RedisRateLimitStore.DecideAsync)", ours, "bytes", how);
        table.Add("d", "allocated per call: bare client ScriptEvaluateAsync(sha, keys, args)", client, "bytes", "same way; keys and args arrays built beforehand");
        table.Add("d", "ours minus client", ours - client, "bytes", "what the store adds per decision");
        table.Add("d", "  of which key names (RedisKeyLayout.For)", layout, "bytes", "GC.GetAllocatedBytesForCurrentThread around the call alone");
        table.Add("d", "  a deadline on a bare call: Task.WaitAsync(timeout)", bounded - client, "bytes", "bare call with .WaitAsync(10 s) minus bare call: the store bounds every call this way");

        await RedisMemoryAsync(workload, store, table);
        cluster.FlushAll();
    }

    private static double KeyLayoutBytes(string[] partitions, int count)
    {
        var layout = new RedisKeyLayout(new RedisStoreOptions().KeyPrefix);
        for (var i = 0; i < Warmup; i++)
        {
            _ = layout.For(StoreWorkload.Policy, partitions[i % partitions.Length]);
        }

        var before = GC.GetAllocatedBytesForCurrentThread();
        for (var i = 0; i < count; i++)
        {
            _ = layout.For(StoreWorkload.Policy, partitions[i % partitions.Length]);
        }

        return (GC.GetAllocatedBytesForCurrentThread() - before) / (double)count;
    }

    /// <summary>Admits N requests into a fresh partition, then reads MEMORY USAGE of both its keys.</summary>
    private static async Task RedisMemoryAsync(StoreWorkload workload, RedisRateLimitStore store, ResultTable table)
    {
        var thousand = await FillAsync(workload, store, "memory-1000x1", 1_000, 1);
        var hundred = await FillAsync(workload, store, "memory-100x1", 100, 1);
        var heavy = await FillAsync(workload, store, "memory-100x50", 100, 50);
        table.Add("d", "Redis memory per admitted request: 1,000 x cost 1", thousand.Bytes / 1_000.0, "bytes", thousand.Note, "N1");
        table.Add("d", "Redis memory per admitted request: 100 x cost 50", heavy.Bytes / 100.0, "bytes", heavy.Note, "N1");
        table.Add("d", "Redis memory per admitted request: 100 x cost 1", hundred.Bytes / 100.0, "bytes", hundred.Note, "N1");
        table.Add("d", "Redis memory per further entry, large window", (thousand.Bytes - hundred.Bytes) / 900.0, "bytes", "(1,000 x cost 1 - 100 x cost 1) / 900", "N1");
    }

    private static async Task<(long Bytes, string Note)> FillAsync(StoreWorkload workload, RedisRateLimitStore store, string partition, int count, int cost)
    {
        for (var i = 0; i < count; i++)
        {
            var decision = await store.DecideAsync(StoreWorkload.Request(partition, cost), CancellationToken.None);
            if (!decision.IsAllowed)
            {
                throw new InvalidOperationException($"Request {i} of {count} (cost {cost}) was rejected.");
            }
        }

        var target = workload.Target(partition);
        var entries = workload.Cluster.MemoryUsage(target.EntriesKey);
        var totals = workload.Cluster.MemoryUsage(target.TotalsKey);
        var note = string.Create(CultureInfo.InvariantCulture,
            $"MEMORY USAGE SAMPLES 0: entries {entries:N0} B ({workload.Cluster.Encoding(target.EntriesKey)}) + totals {totals:N0} B ({workload.Cluster.Encoding(target.TotalsKey)})");
        return (entries + totals, note);
    }
}
