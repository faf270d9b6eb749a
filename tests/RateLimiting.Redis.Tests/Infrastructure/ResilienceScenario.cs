using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RateLimiting.Limiter;
using RateLimiting.Policies;
using RateLimiting.Redis.Connection;
using RateLimiting.Redis.Store;
using RateLimiting.Store;
using RateLimiting.Time;

namespace RateLimiting.Redis.Tests.Infrastructure;

/// <summary>
/// The world of one destructive scenario: a fresh <see cref="ProxiedRedisCluster"/>, a
/// <see cref="RedisRateLimitStore"/> on it with short resilience settings, and the
/// <see cref="PolicyDecider"/> an application puts in front of it, with the policy's failure mode
/// and a local fallback store. Disposing it stops everything, the cluster last, even after a failure.
/// </summary>
internal sealed class ResilienceScenario : IAsyncDisposable
{
    public const string Policy = "resilience";

    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(15);

    private readonly InMemoryRateLimitStore _fallback = new();
    private readonly ConcurrentQueue<(long At, string Reason)> _reconnects = new();

    private ResilienceScenario(ProxiedRedisCluster cluster, RedisStoreOptions storeOptions, SlidingWindowPolicyOptions policyOptions)
    {
        Cluster = cluster;
        StoreOptions = storeOptions;
        PolicyOptions = policyOptions;
        Keys = new RedisKeyLayout(storeOptions.KeyPrefix);
        Connection = new RedisConnection(storeOptions, new LoggerFactory([Logs]).CreateLogger<RedisRateLimitStore>(), MonotonicClock.Instance, meterFactory: null);
        Connection.Supervisor.Reconnected += reason => _reconnects.Enqueue((Stopwatch.GetTimestamp(), reason));
        Connection.Supervisor.ReconnectDeclined += reason => _reconnects.Enqueue((Stopwatch.GetTimestamp(), "declined_" + reason));
        Store = new RedisRateLimitStore(Connection, storeOptions);
        CountingStore = new CountingStore(Store);
        var errors = new List<string>();
        var compiled = CompiledPolicy.TryCompile(Policy, policyOptions, new RateLimitingOptions(), PolicyRegistry.SectionName, errors)
            ?? throw new ArgumentException(string.Join(" ", errors), nameof(policyOptions));
        Decider = new ScenarioDecider(new PolicyDecider(Policy, CountingStore, _fallback, overLimitCache: null, metrics: null, NullLogger.Instance), compiled);
    }

    public ProxiedRedisCluster Cluster { get; }

    /// <summary>When the scenario was created, as a Stopwatch timestamp.</summary>
    public long CreatedAt { get; } = Stopwatch.GetTimestamp();

    /// <summary>The store's log, for a scenario's figures line.</summary>
    public CapturingLoggerProvider Logs { get; } = new();

    /// <summary>The breakers' openings and closings so far, as logged (<c>Redis 127.0.0.1:7001 is failing (timeouts, …)</c>), joined by <c>;</c>.</summary>
    public string BreakerLog => string.Join(';', Logs.Entries
        .Where(entry => entry.EventId.Name is "BreakerOpened" or "BreakerClosed")
        .Select(entry => entry.Text.Split(": its decisions", 2)[0].Trim()));

    public RedisStoreOptions StoreOptions { get; }

    public SlidingWindowPolicyOptions PolicyOptions { get; }

    public RedisKeyLayout Keys { get; }

    /// <summary>The store under test, on <see cref="Connection"/>.</summary>
    public RedisRateLimitStore Store { get; }

    /// <summary>The resilience layer under test.</summary>
    public RedisConnection Connection { get; }

    /// <summary>The store as the decider sees it, counting the errors the failure mode answered.</summary>
    public CountingStore CountingStore { get; }

    public ScenarioDecider Decider { get; }

    /// <summary>Gets what the store's batching did so far, for a scenario's figures line: <c>batches/decisions in them/decided alone</c>.</summary>
    public string BatchFigures => Connection.Batcher is { } batcher ? $"{batcher.Batches}/{batcher.BatchedDecisions}/{batcher.DecidedAlone}" : "off";

    /// <summary>Asserts that some decisions went in batches, so that the scenario exercised them.</summary>
    public void AssertBatched() => Assert.True(Connection.Batcher?.Batches > 0, $"No decisions went in a batch ({BatchFigures}).");

    /// <summary>Reconnects that ended, swapped or declined (the fresh multiplexer served fewer slots), since <paramref name="since"/> (a Stopwatch timestamp).</summary>
    public int ReconnectAttemptsSince(long since) => _reconnects.Count(r => r.At >= since);

    /// <summary>Every reconnect that ended, e.g. <c>1302ms:moved_loop;2527ms:declined_moved_loop</c>, times since <paramref name="since"/> (a Stopwatch timestamp).</summary>
    public string ReconnectSummary(long since)
        => string.Join(';', _reconnects.Select(r => $"{ScenarioFigures.Milliseconds(Stopwatch.GetElapsedTime(since, r.At))}ms:{r.Reason}"));

    /// <summary>Short but sane settings, so that a scenario takes seconds: the same rules as production, smaller numbers.</summary>
    public static RedisStoreOptions ShortOptions(string configuration) => new()
    {
        // connectTimeout bounds how long a reconnect waits for a node that does not answer.
        Configuration = configuration + ",connectTimeout=2000,syncTimeout=2000",
        KeyPrefix = "rs" + Guid.NewGuid().ToString("N")[..10],
        OperationTimeout = TimeSpan.FromMilliseconds(300),
        Resilience =
        {
            MovedLoopThreshold = 3,
            FaultWindow = TimeSpan.FromSeconds(10),
            PersistentFaultDuration = TimeSpan.FromSeconds(1),
            MinReconnectInterval = TimeSpan.FromSeconds(1),
            MaxReconnectInterval = TimeSpan.FromSeconds(4),
        },
    };

    /// <param name="failureMode">What answers while the store cannot.</param>
    /// <param name="permitLimit">The policy's limit; by default too high to reject, so every decision admits.</param>
    /// <param name="window">The policy's window; by default short, so that hammered windows stay small in Redis.</param>
    /// <param name="configure">Adjusts <see cref="ShortOptions"/>.</param>
    /// <param name="startCluster">False to reserve the cluster's ports only: nothing listens until <see cref="ProxiedRedisCluster.StartAsync()"/>.</param>
    /// <param name="tls">A TLS-only, password-protected cluster behind a TLS-terminating proxy; the store trusts its CA.</param>
    public static async Task<ResilienceScenario> CreateAsync(
        FailureMode failureMode,
        int permitLimit = 1_000_000,
        TimeSpan? window = null,
        Action<RedisStoreOptions>? configure = null,
        bool startCluster = true,
        bool tls = false)
    {
        var cluster = startCluster ? await ProxiedRedisCluster.StartNewAsync(tls) : ProxiedRedisCluster.Reserve(tls);
        try
        {
            var storeOptions = ShortOptions(cluster.ConfigurationString);
            if (tls)
            {
                storeOptions.TrustedCaCertificatePath = cluster.CaCertificatePath;
            }

            configure?.Invoke(storeOptions);
            var policyOptions = new SlidingWindowPolicyOptions
            {
                PermitLimit = permitLimit,
                Window = window ?? TimeSpan.FromSeconds(2),
                PartitionBy = "Global",
                FailureMode = failureMode,
            };
            return new ResilienceScenario(cluster, storeOptions, policyOptions);
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    /// <summary><paramref name="perMaster"/> partitions on each of <paramref name="masters"/>, in master order.</summary>
    public string[][] PartitionsOn(IReadOnlyList<ClusterNodeInfo> masters, int perMaster, string tag)
        => [.. masters.Select((master, index) => ClusterPartitions.OnMaster(Keys, Policy, master, perMaster, $"{tag}{index}"))];

    /// <summary>One decision of cost 0 (it records nothing) per partition; true when the store answered them all.</summary>
    public async Task<bool> AllStoreBackedAsync(IEnumerable<string> partitions)
    {
        foreach (var partition in partitions)
        {
            var lease = await Decider.DecideAsync(partition, 0, CancellationToken.None);
            if (lease.Source != RateLimitDecisionSource.Store)
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Polls until the store answers every partition; returns the time since <paramref name="since"/> (a Stopwatch timestamp).</summary>
    public async Task<TimeSpan> WaitUntilStoreBackedAsync(IEnumerable<string> partitions, TimeSpan deadline, long since)
    {
        var all = partitions.ToArray();
        await Poll.UntilAsync(() => AllStoreBackedAsync(all), backed => backed, deadline);
        return Stopwatch.GetElapsedTime(since);
    }

    /// <summary>
    /// Lets the load run on until at least <paramref name="minimum"/> after the fault and a second
    /// after the recovery, so that both the control and the after-recovery assertions have decisions.
    /// An observation period, not a wait for a condition.
    /// </summary>
    public static async Task ObserveUntilAsync(long faultAt, TimeSpan recovered, TimeSpan minimum)
    {
        var end = recovered + TimeSpan.FromSeconds(1) > minimum ? recovered + TimeSpan.FromSeconds(1) : minimum;
        var remaining = end - Stopwatch.GetElapsedTime(faultAt);
        if (remaining > TimeSpan.Zero)
        {
            await Task.Delay(remaining);
        }
    }

    /// <summary>Spends what is left of <paramref name="partition"/>'s window; asks again after a deadline miss, which may or may not have spent it.</summary>
    public async Task ExhaustAsync(string partition)
    {
        await Poll.UntilAsync(
            async () =>
            {
                if (await TryDecideAsync(partition, cost: 0) is not { } state)
                {
                    return -1;
                }

                if (state.Remaining > 0)
                {
                    await TryDecideAsync(partition, state.Remaining);
                }

                return state.Remaining;
            },
            remaining => remaining == 0,
            Generous);
    }

    /// <summary>A decision of cost 1 through the decider for each partition, asked again until the store (not the failure mode) answers it.</summary>
    public async Task<IReadOnlyList<DecisionLease>> StoreDecisionsAsync(IEnumerable<string> partitions)
    {
        var leases = new List<DecisionLease>();
        foreach (var partition in partitions)
        {
            leases.Add(await Poll.UntilAsync(
                async () => await Decider.DecideAsync(partition, 1, CancellationToken.None),
                lease => lease.Source == RateLimitDecisionSource.Store,
                Generous));
        }

        return leases;
    }

    /// <summary>A decision straight from the store, under the scenario's policy; null on a deadline miss (the busy machine), for the caller to ask again.</summary>
    public async Task<RateLimitDecision?> TryDecideAsync(string partition, int cost)
    {
        try
        {
            return await Store.DecideAsync(new RateLimitRequest(Policy, partition, PolicyOptions.PermitLimit, PolicyOptions.Window, cost), CancellationToken.None);
        }
        catch (TimeoutException)
        {
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await Connection.DisposeAsync();
            _fallback.Dispose();
        }
        finally
        {
            await Cluster.DisposeAsync();
        }
    }
}
