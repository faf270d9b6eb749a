using System.Security.Cryptography;
using System.Text;
using RateLimiting.Benchmarks.Infrastructure;
using RateLimiting.Redis.Store;
using RateLimiting.Store;

namespace RateLimiting.Benchmarks.Store;

/// <summary>
/// What every store measurement decides: one policy with a limit no run can reach (so every
/// decision is an admission that writes), a one-minute window (nothing expires during a run), cost 1,
/// over either many partitions or a few fixed ones that redis-benchmark can address too; and the
/// same decisions against two windows of one partition (<see cref="TwoWindows"/>).
/// </summary>
internal sealed class StoreWorkload
{
    public const string Policy = "bench";
    public const int PermitLimit = 1_000_000_000;
    public const int ManyPartitionCount = 16_384;
    public const int FixedPartitionsPerMaster = 2;

    public static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    /// <summary>
    /// Gets the two-window row's limits, a burst cap under an hourly quota: 10 per second and 1,000
    /// per hour. No run reaches them: a run starts from an empty cluster and makes
    /// <see cref="Suite.SuiteOptions.StoreDecisionsPerRun"/> (at most 60,000) decisions in turn over
    /// <see cref="ManyPartitionCount"/> partitions, so at most 4 per partition.
    /// </summary>
    public static readonly RateLimitWindow[] TwoWindows = [new(10, TimeSpan.FromSeconds(1)), new(1_000, TimeSpan.FromHours(1))];

    private readonly RedisKeyLayout _keys;

    public StoreWorkload(BenchCluster cluster, string redisConfiguration)
    {
        Cluster = cluster;
        RedisConfiguration = redisConfiguration;
        var defaults = new RedisStoreOptions();
        _keys = new RedisKeyLayout(defaults.KeyPrefix);
        ScriptSource = ReadScript();
        Sha = cluster.LoadScript(ScriptSource);
        var expected = Convert.ToHexStringLower(SHA1.HashData(Encoding.UTF8.GetBytes(ScriptSource)));
        if (Sha != expected)
        {
            throw new InvalidOperationException($"Redis computed SHA1 {Sha} for the script, the store {expected}.");
        }

        ManyPartitions = Enumerable.Range(0, ManyPartitionCount).Select(i => Target("client-" + i)).ToArray();
        FixedPartitions = PickFixedPartitions();
    }

    public BenchCluster Cluster { get; }

    public string RedisConfiguration { get; }

    /// <summary>Gets the script the store runs, as embedded in RateLimiting.Redis.</summary>
    public string ScriptSource { get; }

    /// <summary>Gets the script's SHA1 (hex), loaded on every master.</summary>
    public string Sha { get; }

    /// <summary>Gets the partitions of the main workload, spread over all slots and so all masters.</summary>
    public IReadOnlyList<ScriptTarget> ManyPartitions { get; }

    /// <summary>Gets <see cref="FixedPartitionsPerMaster"/> partitions on each master, each in its own slot: redis-benchmark's keys.</summary>
    public IReadOnlyList<ScriptTarget> FixedPartitions { get; }

    /// <summary>Gets the script's arguments for a cost-1 decision, as the store passes them: now (0: the Redis server's clock), cost, limit, window (µs).</summary>
    public IReadOnlyList<long> ScriptArguments => [0, 1, PermitLimit, Window.Ticks / TimeSpan.TicksPerMicrosecond];

    public static RateLimitRequest Request(string partition, int cost = 1) => new(Policy, partition, PermitLimit, Window, cost);

    /// <summary>Decides one cost-1 request, which must be admitted: a rejection (or a failure) counts as a failed operation.</summary>
    public static ValueTask AdmitAsync(RedisRateLimitStore store, string partition) => AdmitAsync(store, Request(partition));

    /// <summary>Decides one cost-1 request against <see cref="TwoWindows"/>, which must be admitted like <see cref="AdmitAsync(RedisRateLimitStore, string)"/>'s.</summary>
    public static ValueTask AdmitTwoWindowsAsync(RedisRateLimitStore store, string partition) => AdmitAsync(store, new RateLimitRequest(Policy, partition, TwoWindows, 1));

    private static async ValueTask AdmitAsync(RedisRateLimitStore store, RateLimitRequest request)
    {
        var decision = await store.DecideAsync(request, CancellationToken.None);
        if (!decision.IsAllowed)
        {
            throw new InvalidOperationException($"A decision under a limit of {decision.Limit:N0} was a rejection ({decision.Reason}).");
        }
    }

    /// <summary>A store as an application would create it, with a generous deadline so that a slow moment is no failure.</summary>
    /// <param name="batching">The value of <see cref="RedisStoreOptions.Batching"/>.</param>
    public RedisRateLimitStore CreateStore(bool batching = true)
        => new(new RedisStoreOptions
        {
            Configuration = RedisConfiguration,
            OperationTimeout = TimeSpan.FromSeconds(10),
            Batching = batching,
        });

    /// <summary>Counts <see cref="ManyPartitions"/> per master, e.g. <c>5461/5462/5461</c>.</summary>
    public string Spread() => string.Join('/', ManyPartitions.GroupBy(t => t.Master.Port).OrderBy(g => g.Key).Select(g => g.Count()));

    public ScriptTarget Target(string partition)
    {
        var (entries, totals) = _keys.For(Policy, partition);
        return new ScriptTarget(partition, entries, totals, Cluster.Masters[Cluster.MasterOf(entries)]);
    }

    private ScriptTarget[] PickFixedPartitions()
    {
        var picked = new List<ScriptTarget>();
        var slots = new HashSet<int>();
        for (var i = 0; picked.Count < Cluster.Masters.Count * FixedPartitionsPerMaster; i++)
        {
            if (i > 100_000)
            {
                throw new InvalidOperationException("Could not find partitions on every master.");
            }

            var target = Target("fixed-" + i);
            if (picked.Count(t => t.Master.Equals(target.Master)) < FixedPartitionsPerMaster && slots.Add(Cluster.Slot(target.EntriesKey)))
            {
                picked.Add(target);
            }
        }

        return [.. picked.OrderBy(t => t.Master.Port)];
    }

    private static string ReadScript() => SlidingWindowScripts.Decide.One.Source;
}
