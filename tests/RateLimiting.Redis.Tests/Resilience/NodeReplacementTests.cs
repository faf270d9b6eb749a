using System.Diagnostics;
using System.Globalization;
using System.Net;
using RateLimiting.Limiter;
using RateLimiting.Policies;
using RateLimiting.Redis.Tests.Infrastructure;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace RateLimiting.Redis.Tests.Resilience;

/// <summary>
/// How a managed Redis service (Azure, ElastiCache) scales or patches a cluster: new masters join,
/// every slot moves to them with its keys, then the old masters and their replicas leave the cluster
/// and stop, while the application's configuration string still names only the old endpoints. The
/// store must follow the slots and keep deciding through Redis, within the product's 5 s of the old
/// nodes stopping, with the windows it had: a partition exhausted before the replacement is still
/// rejected by Redis after it, and no admission is lost or counted twice on the way.
/// </summary>
/// <remarks>
/// The client usually knows the new masters before the old nodes stop: the MOVED replies of the
/// move name them, and a multiplexer replaced during the move still reached a live old node. The
/// stop then costs nothing by itself. What the 5 s target guards against is a replacement after
/// the stop, seeded from the configuration string alone, which finds only stopped nodes: so once
/// Redis decides again, the test makes the store replace its multiplexer, as persistent faults
/// would, and Redis must go on deciding.
/// </remarks>
[Collection(DestructiveClusterCollection.Name)]
public sealed class NodeReplacementTests : ResilienceScenarioTests
{
    private const int Callers = 20;
    private const int PerMaster = 4;
    private const int Limit = 100_000; // not reached by the load; an exhausted partition spends it in one decision
    private static readonly TimeSpan Window = TimeSpan.FromHours(1); // nothing leaves a window while the test runs
    private static readonly TimeSpan CallerPause = TimeSpan.FromMilliseconds(2);

    // The product's target: Redis decides again within 5 s of the old nodes stopping. Measured
    // within a much longer deadline, so that a miss fails with its figure, not with a timeout.
    private static readonly TimeSpan RecoveryTarget = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan RecoveryDeadline = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(15);

    public NodeReplacementTests(ITestOutputHelper output)
        : base(output)
    {
    }

    private protected override Task<ResilienceScenario> CreateScenarioAsync() => ResilienceScenario.CreateAsync(FailureMode.FailOpen, Limit, Window);

    [Fact]
    public async Task Store_EveryNodeReplacedWhileConfiguredWithTheOldEndpoints_RedisDecidesAgainWithTheWindowsThatMoved()
    {
        // Arrange: the store knows the old endpoints only; load on every master, and one partition
        // per master exhausted, which only Redis can reject: the failure mode (FailOpen) admits.
        var cluster = Scenario.Cluster;
        Assert.All(
            ConfigurationOptions.Parse(Scenario.StoreOptions.Configuration!).EndPoints,
            endPoint => Assert.Contains(((IPEndPoint)endPoint).Port, cluster.ProxyPorts));
        var oldNodes = await cluster.NodesAsync();
        var oldMasters = oldNodes.Where(node => node.IsMaster).OrderBy(node => node.Port).ToArray();
        var partitions = Scenario.PartitionsOn(oldMasters, PerMaster, "replace");
        var exhausted = Scenario.PartitionsOn(oldMasters, perMaster: 1, "exhausted").Select(onMaster => onMaster[0]).ToArray();
        var probes = partitions.Select(onMaster => onMaster[0]).ToArray();
        await Scenario.WaitUntilStoreBackedAsync([.. probes, .. exhausted], Generous, Stopwatch.GetTimestamp());
        foreach (var partition in exhausted)
        {
            await Scenario.ExhaustAsync(partition);
        }

        Assert.All(await Scenario.StoreDecisionsAsync(exhausted), lease => Assert.False(lease.IsAcquired));
        await using var newNodes = await ExtraClusterNodes.StartAsync(oldMasters.Length);
        var oldAdmin = oldNodes.Select(cluster.AdminNodeOf).ToArray();
        var oldMasterAdmin = oldMasters.Select(cluster.AdminNodeOf).ToArray();
        await using var load = DecisionLoad.Start(Scenario.Decider, [.. partitions.SelectMany(p => p), .. exhausted], Callers, CallerPause);
        await Poll.UntilAsync(() => Task.FromResult(load.Count), count => count >= 500, Generous);

        // Act 1: the new masters join; every node, old and new, must know every other and the slots' owners.
        var replacementStartedAt = Stopwatch.GetTimestamp();
        Scenario.CountingStore.Reset(); // count the scenario's errors, not the warm-up's
        await newNodes.MeetAsync(oldAdmin[0]);
        AdminNode[] everyone = [.. oldAdmin, .. newNodes.Nodes];
        await Poll.UntilAsync(() => AllKnowEachOtherAsync(everyone), known => known, Generous);
        var joined = Stopwatch.GetElapsedTime(replacementStartedAt);

        // Act 2: old master k's slots move to new master k with their keys. The old masters already
        // emptied (replicas of their successor by now) are no masters to tell any more.
        var migrationStartedAt = Stopwatch.GetTimestamp();
        var keysMoved = 0;
        for (var k = 0; k < oldMasters.Length; k++)
        {
            var otherMasters = oldMasterAdmin.Skip(k + 1).Concat(newNodes.Nodes.Where((_, index) => index != k));
            keysMoved += await SlotMigration.MoveAsync(oldMasterAdmin[k], newNodes.Nodes[k], otherMasters, SlotsOf(oldMasters[k]));
        }

        var migration = Stopwatch.GetElapsedTime(migrationStartedAt);

        // Act 3: the old nodes leave the cluster (forgotten by the new ones, which then make the whole
        // cluster), then stop. Every new node has its old master's slots.
        var forgetStartedAt = Stopwatch.GetTimestamp();
        foreach (var node in newNodes.Nodes)
        {
            foreach (var old in oldNodes)
            {
                await node.ExecuteAsync("CLUSTER", "FORGET", old.Id);
            }
        }

        int[] expectedSlots = [.. oldMasters.Select(master => master.SlotCount)];
        await Poll.UntilAsync(() => ConsistsOfAsync(newNodes.Nodes, expectedSlots), consists => consists, Generous);
        var forgotten = Stopwatch.GetElapsedTime(forgetStartedAt);
        var stopStartedAt = Stopwatch.GetTimestamp();
        foreach (var old in oldNodes)
        {
            await cluster.KillNodeAsync(old.Port);
        }

        var stoppedAt = Stopwatch.GetTimestamp();
        var stopping = Stopwatch.GetElapsedTime(stopStartedAt, stoppedAt);
        var (newKnown, newConnected) = WhatTheClientSees(newNodes.Nodes);

        // Measure: how long until Redis answers a probe on every new master.
        TimeSpan? recovered = null;
        try
        {
            recovered = await Scenario.WaitUntilStoreBackedAsync(probes, RecoveryDeadline, stoppedAt);
        }
        catch (TimeoutException)
        {
            // Not within the measuring deadline: reported below, and asserted on.
        }

        IReadOnlyList<DecisionLease> exhaustedAfter = [];
        var recoveredAt = long.MaxValue;
        if (recovered is { } recovery)
        {
            recoveredAt = stoppedAt + (long)(recovery.TotalSeconds * Stopwatch.Frequency);
            await Poll.UntilAsync(() => Task.FromResult(load.Records.Count(r => r.StartedAt > recoveredAt)), count => count >= 500, Generous);
            exhaustedAfter = await Scenario.StoreDecisionsAsync(exhausted);
        }

        // Act 4: a reconnect after the stop, as persistent faults would start one.
        var reconnectedAt = long.MaxValue;
        TimeSpan? afterReconnect = null;
        string reconnectOutcome = "none";
        if (recovered is not null)
        {
            var finished = new TaskCompletionSource<string>(TaskCreationOptions.RunContinuationsAsynchronously);
            Scenario.Connection.Supervisor.Reconnected += _ => finished.TrySetResult("swapped");
            Scenario.Connection.Supervisor.ReconnectDeclined += _ => finished.TrySetResult("declined");
            await Poll.UntilAsync(() => Task.FromResult(Scenario.Connection.Supervisor.TryReconnect(Scenario.Connection.Supervisor.Current!, "node_replacement_test")), started => started, Generous);
            reconnectOutcome = await finished.Task.WaitAsync(RecoveryDeadline);
            reconnectedAt = Stopwatch.GetTimestamp();
            try
            {
                afterReconnect = await Scenario.WaitUntilStoreBackedAsync(probes, RecoveryDeadline, reconnectedAt);
            }
            catch (TimeoutException)
            {
                // Reported below, and asserted on.
            }

            if (afterReconnect is not null)
            {
                await Poll.UntilAsync(() => Task.FromResult(load.Records.Count(r => r.StartedAt > reconnectedAt)), count => count >= 500, Generous);
            }
        }

        var records = await load.StopAsync();

        // Assert: what Redis counts against what the callers were told, partition by partition.
        var loadPartitions = partitions.SelectMany(p => p).ToArray();
        var counted = recovered is null ? null : await CountedAsync(loadPartitions);
        var admitted = loadPartitions.Select(p => records.Count(r => r.Partition == p && r.ByStore && r.Acquired)).ToArray();
        var unanswered = loadPartitions.Select(p => records.Count(r => r.Partition == p && r.ByFailureMode)).ToArray();
        var lost = counted?.Select((c, i) => Math.Max(0, admitted[i] - c)).Sum();
        var doubled = counted?.Select((c, i) => Math.Max(0, c - admitted[i] - unanswered[i])).Sum();
        var exhaustedSet = exhausted.ToHashSet();
        var overAdmitted = records.Count(r => exhaustedSet.Contains(r.Partition) && r.ByStore && r.Acquired);
        var afterStop = records.Where(r => r.StartedAt >= stoppedAt).ToArray();
        Output.WriteLine(ScenarioFigures.Line(
            "node_replacement",
            ("client", RedisClient.Version),
            ("recover_ms", recovered),
            ("forced_reconnect", reconnectOutcome),
            ("recover_after_forced_reconnect_ms", afterReconnect),
            ("failure_mode_decisions_after_forced_reconnect", records.Count(r => r.StartedAt >= reconnectedAt && r.ByFailureMode)),
            ("failure_mode_decisions", afterStop.Count(r => r.ByFailureMode)),
            ("reconnects", Scenario.Connection.Supervisor.Reconnects),
            ("reconnect_log", Scenario.ReconnectSummary(stoppedAt)),
            ("failure_mode_decisions_during_replacement", records.Count(r => r.StartedAt >= replacementStartedAt && r.StartedAt < stoppedAt && r.ByFailureMode)),
            ("store_errors", Scenario.CountingStore.Errors),
            ("store_error_kinds", Scenario.CountingStore.ErrorSummary(stoppedAt)),
            ("join_ms", joined),
            ("migration_ms", migration),
            ("slots_moved", expectedSlots.Sum()),
            ("keys_moved", keysMoved),
            ("forget_ms", forgotten),
            ("stop_ms", stopping),
            ("client_knew_new_nodes_at_stop", $"{newKnown}/{newNodes.Nodes.Count}"),
            ("client_connected_new_nodes_at_stop", $"{newConnected}/{newNodes.Nodes.Count}"),
            ("decisions", records.Count),
            ("decisions_after_stop", afterStop.Length),
            ("exhausted_rejected_by_store", $"{exhaustedAfter.Count(l => l.Source == RateLimitDecisionSource.Store && !l.IsAcquired)}/{exhausted.Length}"),
            ("over_admitted", overAdmitted),
            ("lost", lost),
            ("doubled", doubled),
            ("generations", Scenario.Connection.Supervisor.Current?.Number),
            ("batches_batched_alone", Scenario.BatchFigures)));

        Assert.All(records, r => Assert.Null(r.Error));
        Assert.True(recovered is not null, $"Redis did not answer every probe within {RecoveryDeadline.TotalSeconds:0} s of the old nodes stopping.");
        Assert.All(exhaustedAfter, lease => Assert.False(lease.IsAcquired, "An exhausted partition was admitted by Redis after the replacement: its window did not move with its slot."));
        Assert.Equal(0, overAdmitted);
        Assert.Equal(0, lost); // every admission Redis answered is still in its window ...
        Assert.Equal(0, doubled); // ... and none is there twice
        DecisionAssert.AnsweredByStore([.. records.Where(r => r.StartedAt > recoveredAt)], Scenario.CountingStore, _ => true, recoveredAt, long.MaxValue, "After recovery");
        Assert.True(
            recovered <= RecoveryTarget,
            $"Redis answered every probe {ScenarioFigures.Milliseconds(recovered!.Value)} ms after the old nodes stopped; the target is {ScenarioFigures.Milliseconds(RecoveryTarget)} ms.");
        Assert.True(afterReconnect is not null, $"After a reconnect once the old nodes had stopped ({reconnectOutcome}), Redis did not answer every probe within {RecoveryDeadline.TotalSeconds:0} s.");
        Assert.True(
            afterReconnect <= RecoveryTarget,
            $"Redis answered every probe {ScenarioFigures.Milliseconds(afterReconnect!.Value)} ms after a reconnect ({reconnectOutcome}) once the old nodes had stopped; the target is {ScenarioFigures.Milliseconds(RecoveryTarget)} ms.");
    }

    private static int[] SlotsOf(ClusterNodeInfo master)
        => [.. master.SlotRanges.SelectMany(range => Enumerable.Range(range.Start, range.End - range.Start + 1))];

    /// <summary>
    /// Every node lists exactly <paramref name="nodes"/>, none still in handshake or suspected down,
    /// and sees the cluster ok: a node that joined answers CLUSTERDOWN to everything, the RESTORE of
    /// a MIGRATE included, until it has learned every slot's owner and waited out its rejoin delay.
    /// </summary>
    private static async Task<bool> AllKnowEachOtherAsync(IReadOnlyCollection<AdminNode> nodes)
    {
        var ids = nodes.Select(node => node.Id).ToHashSet(StringComparer.Ordinal);
        foreach (var node in nodes)
        {
            var info = await node.ClusterInfoAsync();
            if (info.GetValueOrDefault("cluster_state") != "ok" || info.GetValueOrDefault("cluster_slots_ok") != "16384")
            {
                return false;
            }

            var seen = await node.NodesAsync();
            if (!ids.SetEquals(seen.Select(n => n.Id))
                || seen.Any(n => n.Flags.Overlaps(["handshake", "noaddr", "fail?", "fail"])))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>Every one of <paramref name="masters"/> sees a healthy cluster of exactly these masters, master k serving <paramref name="slots"/>[k] slots.</summary>
    private static async Task<bool> ConsistsOfAsync(IReadOnlyList<AdminNode> masters, IReadOnlyList<int> slots)
    {
        foreach (var node in masters)
        {
            var info = await node.ClusterInfoAsync();
            if (info.GetValueOrDefault("cluster_state") != "ok"
                || info.GetValueOrDefault("cluster_slots_assigned") != "16384"
                || info.GetValueOrDefault("cluster_slots_ok") != "16384"
                || info.GetValueOrDefault("cluster_known_nodes") != masters.Count.ToString(CultureInfo.InvariantCulture))
            {
                return false;
            }

            var seen = (await node.NodesAsync()).ToDictionary(n => n.Id, StringComparer.Ordinal);
            for (var k = 0; k < masters.Count; k++)
            {
                if (!seen.TryGetValue(masters[k].Id, out var master) || !master.IsMaster || master.IsFailed || master.SlotCount != slots[k])
                {
                    return false;
                }
            }
        }

        return true;
    }

    /// <summary>How many of <paramref name="nodes"/> the store's multiplexer knows as endpoints, and how many it is connected to.</summary>
    private (int Known, int Connected) WhatTheClientSees(IReadOnlyList<AdminNode> nodes)
    {
        if (Scenario.Connection.Supervisor.Current?.Multiplexer is not { } multiplexer)
        {
            return (0, 0);
        }

        var ports = nodes.Select(node => node.Port).ToHashSet();
        var known = multiplexer.GetEndPoints().OfType<IPEndPoint>().Where(endPoint => ports.Contains(endPoint.Port)).ToArray();
        return (known.Length, known.Count(endPoint => multiplexer.GetServer(endPoint).IsConnected));
    }

    /// <summary>What Redis counts in each partition's window: the limit less what remains.</summary>
    private async Task<int[]> CountedAsync(IEnumerable<string> partitions)
    {
        var counted = new List<int>();
        foreach (var partition in partitions)
        {
            var state = await Poll.UntilAsync(() => Scenario.TryDecideAsync(partition, cost: 0), decision => decision is not null, Generous);
            counted.Add(Limit - state!.Value.Remaining);
        }

        return [.. counted];
    }
}
