using System.Diagnostics;
using RateLimiting.Policies;
using RateLimiting.Redis.Tests.Infrastructure;
using Xunit.Abstractions;

namespace RateLimiting.Redis.Tests.Resilience;

/// <summary>
/// A master crashes (SIGKILL) under traffic and the cluster promotes its replica: its slots'
/// decisions are answered by the failure mode during the gap and by Redis again after it. The
/// other masters' decisions carry on, except while the cluster declares itself down between the
/// failure report and the promotion (<c>cluster-require-full-coverage</c>, Redis's default), when
/// the failure mode answers them too. A partition exhausted before the crash (and replicated) is
/// still rejected by Redis after the promotion. The killed node then rejoins as a replica, unnoticed by callers.
/// </summary>
[Collection(DestructiveClusterCollection.Name)]
public sealed class FailoverTests : ResilienceScenarioTests
{
    private const int Callers = 20;
    private static readonly TimeSpan CallerPause = TimeSpan.FromMilliseconds(2);

    // cluster-node-timeout is 2 s: failure detection, election and promotion take a few seconds.
    private static readonly TimeSpan PromotionDeadline = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan RecoveryDeadline = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(15);


    public FailoverTests(ITestOutputHelper output)
        : base(output)
    {
    }

    // A window longer than the test, so that the partition exhausted before the crash is still
    // exhausted after the promotion only if its entries survived it.
    private protected override Task<ResilienceScenario> CreateScenarioAsync() => ResilienceScenario.CreateAsync(FailureMode.LocalFallback, window: TimeSpan.FromHours(1));

    [Fact]
    public async Task Store_MasterKilledAndReplicaPromoted_FailureModeCoversTheGapThenRedisDecidesAgain()
    {
        // Arrange
        var cluster = Scenario.Cluster;
        var nodes = await cluster.NodesAsync();
        var masters = nodes.Where(node => node.IsMaster).OrderBy(node => node.Port).ToArray();
        var victim = masters[0];
        var replica = nodes.Single(node => node.MasterId == victim.Id);
        var partitions = Scenario.PartitionsOn(masters, perMaster: 4, "failover");
        var victimPartitions = partitions[0];
        var otherSet = partitions.Skip(1).SelectMany(p => p).ToHashSet();
        var probes = partitions.Select(onMaster => onMaster[0]).ToArray();
        await Scenario.WaitUntilStoreBackedAsync(probes, Generous, Stopwatch.GetTimestamp());

        // A replica that never finished its first sync refuses to fail over ("disconnected from
        // master for longer than allowed"), and the first sync waits out repl-diskless-sync-delay (5 s).
        await Poll.UntilAsync(
            async () => (string)(await cluster.ExecuteAsync(replica.Port, "INFO", "replication"))!,
            info => info.Contains("master_link_status:up", StringComparison.Ordinal),
            Generous);
        var exhausted = Scenario.PartitionsOn([victim], perMaster: 1, "failover-exhausted")[0][0];
        await Scenario.ExhaustAsync(exhausted);
        var written = ReplicationOffset(await cluster.ExecuteAsync(victim.Port, "INFO", "replication"), "master_repl_offset");
        await Poll.UntilAsync(
            async () => ReplicationOffset(await cluster.ExecuteAsync(replica.Port, "INFO", "replication"), "slave_repl_offset"),
            offset => offset >= written,
            Generous);
        await using var load = DecisionLoad.Start(Scenario.Decider, [.. partitions.SelectMany(p => p)], Callers, CallerPause);
        await Poll.UntilAsync(() => Task.FromResult(load.Count), count => count >= 500, Generous);

        // Act
        var killedAt = Stopwatch.GetTimestamp();
        Scenario.CountingStore.Reset(); // count the scenario's errors, not the warm-up's
        await cluster.KillNodeAsync(victim.Port);
        await Poll.UntilAsync(
            async () => string.Join(' ', (await cluster.MastersAsync()).Select(master => master.Id)),
            ids => ids.Contains(replica.Id, StringComparison.Ordinal) && !ids.Contains(victim.Id, StringComparison.Ordinal),
            PromotionDeadline);
        var promoted = Stopwatch.GetElapsedTime(killedAt);
        var recovered = await Scenario.WaitUntilStoreBackedAsync(victimPartitions, RecoveryDeadline, killedAt);
        var recoveredAt = Stopwatch.GetTimestamp();
        await cluster.RestartNodeAsync(victim.Port); // it rejoins as the replica of its former replica
        var restarted = Stopwatch.GetElapsedTime(killedAt);
        await cluster.WaitUntilHealthyAsync(RecoveryDeadline);
        var rejoined = Stopwatch.GetElapsedTime(killedAt);
        await Scenario.WaitUntilStoreBackedAsync(probes, RecoveryDeadline, recoveredAt);
        var records = await load.StopAsync();
        var exhaustedAfter = (await Scenario.StoreDecisionsAsync([exhausted]))[0];

        // Assert
        var afterKill = records.Where(r => r.StartedAt > killedAt).ToArray();
        var victimSet = victimPartitions.ToHashSet();
        var victimFailureMode = afterKill.Count(r => victimSet.Contains(r.Partition) && r.ByFailureMode);
        var othersFailureMode = afterKill.Count(r => !victimSet.Contains(r.Partition) && r.ByFailureMode);
        Output.WriteLine(ScenarioFigures.Line(
            "failover",
            ("promoted_ms", promoted),
            ("recover_ms", recovered),
            ("restarted_ms", restarted),
            ("rejoined_ms", rejoined),
            ("failure_mode_decisions", victimFailureMode),
            ("other_masters_failure_mode_decisions", othersFailureMode),
            ("reconnects", Scenario.Connection.Supervisor.Reconnects),
            ("store_errors", Scenario.CountingStore.Errors),
            ("store_error_kinds", Scenario.CountingStore.ErrorSummary(killedAt)),
            ("decisions_after_kill", afterKill.Length),
            ("exhausted_rejected_by_store", !exhaustedAfter.IsAcquired),
            ("reconnect_log", Scenario.ReconnectSummary(killedAt)),
            ("batches_batched_alone", Scenario.BatchFigures)));

        Assert.All(records, r => Assert.Null(r.Error));
        Scenario.AssertBatched();
        Assert.True(victimFailureMode > 0, "No decision fell in the failover gap: the kill did not reach the store's callers.");
        Assert.False(exhaustedAfter.IsAcquired, "A partition exhausted before the crash was admitted by the promoted replica.");
        DecisionAssert.AnsweredByStore(
            [.. records.Where(r => r.StartedAt > recoveredAt && otherSet.Contains(r.Partition))], Scenario.CountingStore, otherSet.Contains, recoveredAt, long.MaxValue, "Other masters after the failover");
    }

    /// <summary>One field of INFO replication, e.g. <c>master_repl_offset</c>.</summary>
    private static long ReplicationOffset(object? info, string field)
    {
        var line = ((string)info!).Split('\n').Select(l => l.Trim()).First(l => l.StartsWith(field + ":", StringComparison.Ordinal));
        return long.Parse(line[(field.Length + 1)..], System.Globalization.CultureInfo.InvariantCulture);
    }
}
