using System.Diagnostics;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using RateLimiting.Policies;
using RateLimiting.Redis.Health;
using RateLimiting.Redis.Tests.Infrastructure;
using RateLimiting.Store;
using Xunit.Abstractions;

namespace RateLimiting.Redis.Tests.Resilience;

/// <summary>
/// A master stops answering without closing anything (a black hole: a dead host behind a live
/// route, a frozen process). StackExchange.Redis times such calls out only at its heartbeat, up to
/// a second late; the per-call deadline ends the first decisions, the master's breaker then opens
/// and the failure mode answers the rest at once, while the other masters keep deciding.
/// </summary>
[Collection(DestructiveClusterCollection.Name)]
public sealed class BlackHoleTests : ResilienceScenarioTests
{
    private const int Callers = 50;
    private static readonly TimeSpan CallerPause = TimeSpan.FromMilliseconds(1);
    private static readonly TimeSpan Observation = TimeSpan.FromSeconds(6);
    private static readonly TimeSpan RecoveryDeadline = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(15);


    public BlackHoleTests(ITestOutputHelper output)
        : base(output)
    {
    }

    private protected override Task<ResilienceScenario> CreateScenarioAsync() => ResilienceScenario.CreateAsync(FailureMode.FailOpen);

    [Fact]
    public async Task Store_MasterBlackHoled_ItsDecisionsAnsweredByFailureModeOthersStayOnRedisUntilRestored()
    {
        // Arrange
        var cluster = Scenario.Cluster;
        var masters = await cluster.MastersAsync();
        var victim = masters[1];
        var partitions = Scenario.PartitionsOn(masters, perMaster: 4, "blackhole");
        var victimPartitions = partitions[1].ToHashSet();
        var probes = partitions.Select(onMaster => onMaster[0]).ToArray();
        await Scenario.WaitUntilStoreBackedAsync(probes, Generous, Stopwatch.GetTimestamp());
        await using var load = DecisionLoad.Start(Scenario.Decider, [.. partitions.SelectMany(p => p)], Callers, CallerPause);
        await Poll.UntilAsync(() => Task.FromResult(load.Count), count => count >= 1000, Generous);

        // Act
        Scenario.CountingStore.Reset(); // count the scenario's errors, not the warm-up's
        var openingsWhileHealthy = Scenario.Connection.Breakers.Openings;
        cluster.Proxy.BlackHole(victim.Port);
        var faultAt = Stopwatch.GetTimestamp(); // a decision started after this sends into the black hole
        await Task.Delay(Observation); // the observation period: the fault lasts this long
        var health = await new RedisRateLimitingHealthCheck(Scenario.Store, Scenario.Connection, Options.Create(new RedisRateLimitingOptions()))
            .CheckHealthAsync(new HealthCheckContext());
        var repairedAt = Stopwatch.GetTimestamp();
        var reconnectsDuringFault = Scenario.Connection.Supervisor.Reconnects;
        cluster.Proxy.Restore();
        var recovered = await Scenario.WaitUntilStoreBackedAsync(partitions[1], RecoveryDeadline, repairedAt);
        var records = await load.StopAsync();

        // Assert
        var duringFault = records.Where(r => r.StartedAt > faultAt && r.StartedAt < repairedAt).ToArray();
        // Only decisions that also finished before the repair: one still waiting at that moment may
        // legitimately be answered by Redis once the proxy lets the node through again.
        var onVictim = duringFault
            .Where(r => victimPartitions.Contains(r.Partition) && r.EndedAt < repairedAt)
            .ToArray();
        var onOthers = duringFault.Where(r => !victimPartitions.Contains(r.Partition)).ToArray();
        var victimLatencies = onVictim.Select(r => r.Latency).ToArray();
        var byBreaker = Scenario.CountingStore.ErrorsBetween(faultAt, repairedAt, victimPartitions.Contains).GetValueOrDefault(nameof(RateLimitStoreUnavailableException));
        Output.WriteLine(ScenarioFigures.Line(
            "black_hole",
            ("recover_ms", recovered),
            ("failure_mode_decisions", onVictim.Count(r => r.ByFailureMode)),
            ("answered_by_open_breaker", byBreaker),
            ("failure_mode_latency_max_ms", victimLatencies.DefaultIfEmpty().Max()),
            ("failure_mode_latency_p99_ms", ScenarioFigures.Percentile(victimLatencies, 99)),
            ("failure_mode_latency_p50_ms", ScenarioFigures.Percentile(victimLatencies, 50)),
            ("operation_timeout_ms", Scenario.StoreOptions.OperationTimeout),
            ("other_masters_decisions", onOthers.Length),
            ("other_masters_failure_mode_decisions", onOthers.Count(r => r.ByFailureMode)),
            ("other_masters_latency_max_ms", onOthers.Select(r => r.Latency).DefaultIfEmpty().Max()),
            ("other_masters_latency_p99_ms", ScenarioFigures.Percentile(onOthers.Select(r => r.Latency), 99)),
            ("before_fault_latency_max_ms", records.Where(r => r.StartedAt < faultAt).Select(r => r.Latency).DefaultIfEmpty().Max()),
            ("reconnects", reconnectsDuringFault),
            ("breaker_openings_while_healthy", openingsWhileHealthy),
            ("store_errors", Scenario.CountingStore.Errors),
            ("store_error_kinds", Scenario.CountingStore.ErrorSummary(faultAt)),
            ("reconnect_log", Scenario.ReconnectSummary(faultAt)),
            ("breaker_log", Scenario.BreakerLog),
            ("batches_batched_alone", Scenario.BatchFigures)));

        Assert.All(records, r => Assert.Null(r.Error));
        Scenario.AssertBatched();
        Assert.NotEmpty(onVictim);
        Assert.All(onVictim, r => Assert.True(r.ByFailureMode, $"{r.Partition} answered by {r.Source} inside the black hole."));
        Assert.True(byBreaker >= onVictim.Length * 9 / 10, $"{byBreaker} of {onVictim.Length} answered by the open breaker.");
        Assert.Equal(HealthStatus.Degraded, health.Status);
        Assert.Equal($"127.0.0.1:{victim.Port}", health.Data["open_breakers"]);
        DecisionAssert.AnsweredByStore(onOthers, Scenario.CountingStore, p => !victimPartitions.Contains(p), faultAt, repairedAt, "Healthy masters during the black hole");
    }
}
