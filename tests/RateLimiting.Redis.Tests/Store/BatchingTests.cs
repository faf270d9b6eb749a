using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using NodaTime;
using NodaTime.Testing;
using RateLimiting.Redis.Connection;
using RateLimiting.Redis.Store;
using RateLimiting.Redis.Tests.Infrastructure;
using RateLimiting.Store;
using RateLimiting.Time;

namespace RateLimiting.Redis.Tests.Store;

/// <summary>
/// Per-master batching on a real cluster: decisions queued for one master while a call to it is in
/// flight are decided together in one script execution, each exactly as it would be alone.
/// </summary>
[Collection(RedisClusterCollection.Name)]
public sealed class BatchingTests : IAsyncLifetime
{
    private const string Policy = "batching-tests";
    private const int Callers = 64;
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(10);
    private static readonly RedisKeyLayout Keys = new("rl");

    private readonly RedisClusterFixture _cluster;
    private readonly List<RedisConnection> _connections = [];

    public BatchingTests(RedisClusterFixture cluster) => _cluster = cluster;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var connection in _connections)
        {
            await connection.DisposeAsync();
        }
    }

    [Fact]
    public async Task DecideAsync_ThreeInstancesTimesSixtyFourCallersMixedCostsOnEveryMaster_AdmitExactlyTheLimitPerPartitionAndWindow()
    {
        const int Limit = 300;
        const int Windows = 3;
        var window = TimeSpan.FromMinutes(1);
        var clock = new FakeClock(SystemClock.Instance.GetCurrentInstant());
        var instances = new[] { NewInstance(clock), NewInstance(clock), NewInstance(clock) };
        var partitions = FourOnEveryMaster("exact");

        for (var round = 0; round < Windows; round++)
        {
            var admitted = new int[partitions.Length];
            var callers = Enumerable.Range(0, instances.Length * Callers).Select(async caller =>
            {
                var store = instances[caller % instances.Length].Store;
                for (var attempt = 0; attempt < 40; attempt++)
                {
                    // Costs 1..5 while there is room, then 1s, so that every window fills to its last unit.
                    var partition = (caller + attempt) % partitions.Length;
                    var cost = attempt < 30 ? 1 + ((caller * 7 + attempt) % 5) : 1;
                    if ((await store.DecideAsync(Request(partitions[partition], Limit, window, cost), CancellationToken.None)).IsAllowed)
                    {
                        Interlocked.Add(ref admitted[partition], cost);
                    }
                }
            });
            await Task.WhenAll(callers);

            Assert.All(admitted, cost => Assert.Equal(Limit, cost));
            foreach (var partition in partitions)
            {
                var state = await instances[0].Store.DecideAsync(Request(partition, Limit, window, cost: 0), CancellationToken.None);
                Assert.Equal(0, state.Remaining);
            }

            clock.Advance(Duration.FromTimeSpan(window));
        }

        Assert.All(instances, instance => Assert.True(instance.Connection.Batcher!.Batches > 0, "No decisions went in a batch."));
        Assert.All(instances, instance => Assert.Equal(0, instance.Connection.Batcher!.DecidedAlone));
    }

    [Fact]
    public async Task DecideAsync_ManyRequestsForOnePartitionAtOnce_BatchedTogetherAndAdmitExactlyTheLimit()
    {
        const int Limit = 100;
        var instance = NewInstance(clock: null);
        var partition = "one-" + Guid.NewGuid().ToString("N");

        var decisions = await Task.WhenAll(Enumerable.Range(0, 4 * Callers).Select(_ =>
            instance.Store.DecideAsync(Request(partition, Limit, TimeSpan.FromHours(1)), CancellationToken.None).AsTask()));

        Assert.Equal(Limit, decisions.Count(d => d.IsAllowed));
        var rejected = decisions.Where(d => !d.IsAllowed).ToArray();
        Assert.All(rejected, d => Assert.Equal(RateLimitRejectReason.QuotaExceeded, d.Reason));
        Assert.All(rejected, d => Assert.InRange(d.RetryAfter, TimeSpan.FromMinutes(59), TimeSpan.FromHours(1)));
        var batcher = instance.Connection.Batcher!;
        Assert.True(batcher.BatchedDecisions > batcher.Batches, $"{batcher.BatchedDecisions} decisions in {batcher.Batches} batches.");
    }

    [Fact]
    public async Task DecideAsync_ScriptCacheFlushedOnEveryMaster_BatchesReloadItAndDecide()
    {
        var instance = NewInstance(clock: null);
        var partitions = Enumerable.Range(0, 30).Select(i => $"noscript-{i}-{Guid.NewGuid():N}").ToArray();
        await DecideConcurrentlyAsync(instance.Store, partitions);
        foreach (var port in await _cluster.MasterPortsAsync())
        {
            await _cluster.RedisCliAsync(port, "SCRIPT", "FLUSH");
        }

        var batchesBefore = instance.Connection.Batcher!.Batches;
        var decisions = await DecideConcurrentlyAsync(instance.Store, partitions);

        Assert.All(decisions, decision => Assert.Equal(3, decision.Remaining));
        Assert.True(instance.Connection.Batcher.Batches > batchesBefore, "No decisions went in a batch after the flush.");
    }

    [Fact]
    public async Task DecideAsync_ServerRefusesTheBatchScriptsFlags_EveryDecisionSentAloneLoggedOnce()
    {
        // Redis 7 refuses a flag it does not know as Redis 6 refuses any: before running anything.
        var logs = new CapturingLoggerProvider();
        var instance = NewInstance(clock: null, SlidingWindowScripts.WithBatchShebang("#!lua flags=no-such-flag"), logs);
        var partitions = FourOnEveryMaster("unsupported");

        for (var round = 1; round <= 3; round++)
        {
            var decisions = await DecideConcurrentlyAsync(instance.Store, partitions);
            Assert.All(decisions, decision => Assert.Equal(5 - round, decision.Remaining));
        }

        var batcher = instance.Connection.Batcher!;
        Assert.False(batcher.IsSupported);
        Assert.True(batcher.DecidedAlone > 0);
        var warning = Assert.Single(logs.Entries, entry => entry.EventId.Name == "BatchingUnsupported");
        Assert.Contains("no-such-flag", warning.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DecideAsync_BatchingOff_NoBatcherAndExact()
    {
        var (connection, options) = NewConnection(clock: null, batching: false, logs: null);
        var store = new RedisRateLimitStore(connection, options);
        var partition = "off-" + Guid.NewGuid().ToString("N");

        var decisions = await Task.WhenAll(Enumerable.Range(0, Callers).Select(_ =>
            store.DecideAsync(Request(partition, 10, TimeSpan.FromHours(1)), CancellationToken.None).AsTask()));

        Assert.Null(connection.Batcher);
        Assert.Equal(10, decisions.Count(d => d.IsAllowed));
    }

    [Fact]
    public async Task BatchScript_DecisionsOfAnotherMasterAmongThem_DecidesTheLocalOnesAndLeavesTheOthersUntouched()
    {
        var multiplexer = _cluster.Multiplexer;
        var masters = multiplexer.GetServers().Where(server => server.IsConnected && !server.IsReplica).OrderBy(server => server.EndPoint.ToString()).ToArray();
        var node = masters[0];
        var local = Enumerable.Range(0, 200).Select(i => $"local-{i}-{Guid.NewGuid():N}").Where(p => OwnerOf(p) == node.EndPoint.ToString()).Take(3).ToArray();
        var foreign = Enumerable.Range(0, 200).Select(i => $"foreign-{i}-{Guid.NewGuid():N}").First(p => OwnerOf(p) != node.EndPoint.ToString());
        string[] members = [local[0], foreign, local[1], local[2]];
        var args = new List<object> { SlidingWindowScripts.Decide.Batch!.Source, 0 };
        foreach (var partition in members)
        {
            // Its keys, its four arguments: the server's clock, cost 2, 10 per minute.
            var (entries, totals) = Keys.For(Policy, partition);
            args.AddRange([entries, totals, 4, 0, 2, 10, 60_000_000]);
        }

        var reply = (long[])(await node.ExecuteAsync("EVAL", args).WaitAsync(Generous))!;

        Assert.Equal(SlidingWindowScripts.VerdictWidth * members.Length, reply.Length);
        long[] admitted = [0, 0, 2, 0, 1, 1, 0];
        long[] notServed = [BatchableScript.NotServedHere, 0, 0, 0, 0, 0, 0];
        Assert.Equal([.. admitted, .. notServed, .. admitted, .. admitted], reply.Select((value, i) => i % SlidingWindowScripts.VerdictWidth == 4 ? Math.Sign(value) : value));
        var (foreignEntries, foreignTotals) = Keys.For(Policy, foreign);
        Assert.Equal(0, await multiplexer.GetDatabase().KeyExistsAsync([foreignEntries, foreignTotals]).WaitAsync(Generous));
    }

    private static RateLimitRequest Request(string partition, int limit, TimeSpan window, int cost = 1) => new(Policy, partition, limit, window, cost);

    /// <summary>One decision per partition, all at once, so that they queue behind each other for their masters.</summary>
    private static async Task<RateLimitDecision[]> DecideConcurrentlyAsync(RedisRateLimitStore store, string[] partitions)
        => await Task.WhenAll(partitions.Select(partition => store.DecideAsync(Request(partition, 5, TimeSpan.FromHours(1)), CancellationToken.None).AsTask()));

    /// <summary>Twelve partitions, four owned by each master, so that every master serves batches.</summary>
    private string[] FourOnEveryMaster(string prefix)
    {
        var partitions = Enumerable.Range(0, 1000).Select(i => $"{prefix}-{i}-{Guid.NewGuid():N}")
            .GroupBy(OwnerOf).SelectMany(owner => owner.Take(4)).ToArray();
        Assert.Equal(12, partitions.Length);
        return partitions;
    }

    private string OwnerOf(string partition) => _cluster.OwnerOfSlot(_cluster.Multiplexer.HashSlot(Keys.For(Policy, partition).Entries));

    /// <summary>A store on its own connection, as a separate application instance would have.</summary>
    private (RedisConnection Connection, RedisRateLimitStore Store) NewInstance(FakeClock? clock, BatchableScript? script = null, CapturingLoggerProvider? logs = null)
    {
        var (connection, options) = NewConnection(clock, batching: true, logs);
        return (connection, new RedisRateLimitStore(connection, options, script));
    }

    private (RedisConnection Connection, RedisStoreOptions Options) NewConnection(FakeClock? clock, bool batching, CapturingLoggerProvider? logs)
    {
        var options = new RedisStoreOptions
        {
            Configuration = _cluster.ConfigurationString,
            Clock = clock,
            OperationTimeout = Generous,
            Batching = batching,
        };
        ILogger logger = logs is null ? NullLogger.Instance : new LoggerFactory([logs]).CreateLogger<BatchingTests>();
        var connection = new RedisConnection(options, logger, MonotonicClock.Instance, meterFactory: null);
        _connections.Add(connection);
        return (connection, options);
    }
}
