using System.Diagnostics;
using RateLimiting.Policies;
using RateLimiting.Redis.Resilience;
using RateLimiting.Redis.Tests.Infrastructure;
using RateLimiting.Store;
using Xunit.Abstractions;

namespace RateLimiting.Redis.Tests.Resilience;

/// <summary>
/// The circuit breakers per master: while masters do not answer, their decisions are answered by
/// the failure mode at once instead of at the deadline, and Redis decides again as soon as a probe
/// is answered; a master that keeps flapping opens its breaker a bounded number of times.
/// </summary>
[Collection(DestructiveClusterCollection.Name)]
public sealed class BreakerTests : ResilienceScenarioTests
{
    private const int Callers = 50;
    private const string BreakerAnswer = nameof(RateLimitStoreUnavailableException);
    private static readonly TimeSpan CallerPause = TimeSpan.FromMilliseconds(1);
    private static readonly TimeSpan Observation = TimeSpan.FromSeconds(4);
    private static readonly TimeSpan FlapPhase = TimeSpan.FromMilliseconds(400); // longer than the 300 ms deadline: decisions time out
    private static readonly TimeSpan RecoveryDeadline = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(15);

    public BreakerTests(ITestOutputHelper output)
        : base(output)
    {
    }

    private protected override Task<ResilienceScenario> CreateScenarioAsync() => ResilienceScenario.CreateAsync(FailureMode.FailOpen);

    [Fact]
    public async Task Store_EveryMasterBlackHoled_BreakersAnswerAtOnceUntilReleasedThenRedisDecides()
    {
        // Arrange
        var cluster = Scenario.Cluster;
        var masters = await cluster.MastersAsync();
        var partitions = Scenario.PartitionsOn(masters, perMaster: 4, "allholes");
        var probes = partitions.Select(onMaster => onMaster[0]).ToArray();
        await Scenario.WaitUntilStoreBackedAsync(probes, Generous, Stopwatch.GetTimestamp());
        await using var load = DecisionLoad.Start(Scenario.Decider, [.. partitions.SelectMany(p => p)], Callers, CallerPause);
        await Poll.UntilAsync(() => Task.FromResult(load.Count), count => count >= 1000, Generous);

        // Act
        Scenario.CountingStore.Reset();
        var openingsWhileHealthy = Scenario.Connection.Breakers.Openings;
        cluster.Proxy.BlackHoleAll();
        var faultAt = Stopwatch.GetTimestamp();
        await Task.Delay(Observation); // the observation period: the fault lasts this long
        var repairedAt = Stopwatch.GetTimestamp();
        var openings = Scenario.Connection.Breakers.Openings;
        var reconnects = Scenario.ReconnectAttemptsSince(faultAt);
        cluster.Proxy.Restore();
        var recovered = await Scenario.WaitUntilStoreBackedAsync(probes, RecoveryDeadline, repairedAt);
        var records = await load.StopAsync();

        // Assert
        var duringFault = records.Where(r => r.StartedAt > faultAt && r.EndedAt < repairedAt).ToArray();
        var latencies = duringFault.Select(r => r.Latency).ToArray();
        var byBreaker = Scenario.CountingStore.ErrorsBetween(faultAt, repairedAt, _ => true).GetValueOrDefault(BreakerAnswer);
        Output.WriteLine(ScenarioFigures.Line(
            "all_black_holed",
            ("recover_ms", recovered),
            ("failure_mode_decisions", duringFault.Length),
            ("answered_by_open_breakers", byBreaker),
            ("failure_mode_latency_p50_ms", ScenarioFigures.Percentile(latencies, 50)),
            ("failure_mode_latency_p99_ms", ScenarioFigures.Percentile(latencies, 99)),
            ("failure_mode_latency_max_ms", latencies.DefaultIfEmpty().Max()),
            ("operation_timeout_ms", Scenario.StoreOptions.OperationTimeout),
            ("breaker_openings", openings),
            ("breaker_openings_while_healthy", openingsWhileHealthy),
            ("reconnect_attempts", reconnects),
            ("store_error_kinds", Scenario.CountingStore.ErrorSummary(faultAt)),
            ("breaker_log", Scenario.BreakerLog)));

        Assert.All(records, r => Assert.Null(r.Error));
        Assert.NotEmpty(duringFault);
        Assert.All(duringFault, r => Assert.True(r.ByFailureMode, $"{r.Partition} answered by {r.Source} inside the black hole."));
        // Only the decisions already waiting when a breaker opened waited for Redis.
        Assert.True(byBreaker >= duringFault.Length * 9 / 10, $"{byBreaker} of {duringFault.Length} answered by an open breaker.");
        Assert.InRange(openings, masters.Count, masters.Count + 1); // once per master (and at most once for "no connection")
    }

    [Fact]
    public async Task Store_MasterFlaps_ItsBreakerOpensABoundedNumberOfTimes()
    {
        // Arrange
        var cluster = Scenario.Cluster;
        var masters = await cluster.MastersAsync();
        var victim = masters[2];
        var partitions = Scenario.PartitionsOn(masters, perMaster: 4, "flap");
        var probes = partitions.Select(onMaster => onMaster[0]).ToArray();
        await Scenario.WaitUntilStoreBackedAsync(probes, Generous, Stopwatch.GetTimestamp());
        await using var load = DecisionLoad.Start(Scenario.Decider, [.. partitions.SelectMany(p => p)], Callers, CallerPause);
        await Poll.UntilAsync(() => Task.FromResult(load.Count), count => count >= 1000, Generous);

        // Act: the master hangs and answers in turn; the pattern is the fault, not a wait.
        var openingsWhileHealthy = Scenario.Connection.Breakers.Openings;
        var faultAt = Stopwatch.GetTimestamp();
        const int cycles = 10;
        for (var cycle = 0; cycle < cycles; cycle++)
        {
            cluster.Proxy.BlackHole(victim.Port);
            await Task.Delay(FlapPhase);
            cluster.Proxy.Restore();
            await Task.Delay(FlapPhase);
        }

        var openings = Scenario.Connection.Breakers.Openings - openingsWhileHealthy;
        var swaps = Scenario.Connection.Supervisor.Reconnects;
        var recovered = await Scenario.WaitUntilStoreBackedAsync(probes, RecoveryDeadline, Stopwatch.GetTimestamp());
        var records = await load.StopAsync();

        // Assert
        Output.WriteLine(ScenarioFigures.Line(
            "flapping_master",
            ("cycles", cycles),
            ("phase_ms", FlapPhase),
            ("breaker_openings", openings),
            ("breaker_openings_while_healthy", openingsWhileHealthy),
            ("swaps", swaps),
            ("recover_ms", recovered),
            ("store_error_kinds", Scenario.CountingStore.ErrorSummary(faultAt)),
            ("breaker_log", Scenario.BreakerLog)));

        Assert.All(records, r => Assert.Null(r.Error));
        Assert.True(openings >= 1, "The flapping master never opened its breaker.");
        // Each quick reopening doubles the wait before the first probe, which nothing hastens; never
        // once per cycle, let alone once per failed request.
        var allowed = MostOpeningsIn(2 * cycles * FlapPhase, Scenario.StoreOptions.Resilience);
        Assert.InRange(openings, 1, allowed);
        Assert.True(allowed < cycles, $"The bound ({allowed}) does not show anything in {cycles} cycles.");
    }

    /// <summary>
    /// The most openings the doubling first waits let through in <paramref name="period"/>: one, then
    /// one more per completed wait (250, 500, 1000 ms … for the default interval), plus one because
    /// the period really ends when the last <c>Task.Delay</c> returns, which a busy machine overshoots.
    /// </summary>
    private static long MostOpeningsIn(TimeSpan period, RedisResilienceOptions options)
    {
        long openings = 1;
        var waited = TimeSpan.Zero;
        for (var wait = options.BreakerProbeInterval; waited + wait <= period; wait = wait * 2 > options.BreakerMaxProbeInterval ? options.BreakerMaxProbeInterval : wait * 2)
        {
            waited += wait;
            openings++;
        }

        return openings + 1;
    }
}
