using System.Diagnostics;
using RateLimiting.Limiter;
using RateLimiting.Policies;
using RateLimiting.Redis.Tests.Infrastructure;
using Xunit.Abstractions;

namespace RateLimiting.Redis.Tests.Resilience;

/// <summary>
/// The application starts while Redis is down (nothing listens on its ports), and Redis comes up
/// later: the failure mode answers until then, and Redis decides once it is up, with no restart.
/// </summary>
[Collection(DestructiveClusterCollection.Name)]
public sealed class StartupOutageTests : ResilienceScenarioTests
{
    private const int Callers = 20;
    private static readonly TimeSpan CallerPause = TimeSpan.FromMilliseconds(2);
    private static readonly TimeSpan RecoveryDeadline = TimeSpan.FromSeconds(60);
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(15);


    public StartupOutageTests(ITestOutputHelper output)
        : base(output)
    {
    }

    private protected override Task<ResilienceScenario> CreateScenarioAsync() => ResilienceScenario.CreateAsync(FailureMode.LocalFallback, startCluster: false);

    [Fact]
    public async Task Store_RedisDownAtStartup_FailureModeAnswersUntilTheClusterIsUpThenRedisDecides()
    {
        // Arrange: a store for ports where nothing listens yet, and callers deciding through it.
        var cluster = Scenario.Cluster;
        var partitions = Enumerable.Range(0, 12).Select(i => $"startup-{i}").ToArray();
        var createdAt = Stopwatch.GetTimestamp();
        await using var load = DecisionLoad.Start(Scenario.Decider, partitions, Callers, CallerPause);
        await Poll.UntilAsync(() => Task.FromResult(load.Count), count => count >= 500, Generous);

        // Act: the cluster starts on those ports.
        var startedAt = Stopwatch.GetTimestamp();
        await cluster.StartAsync();
        var upAt = Stopwatch.GetTimestamp();
        var masters = await cluster.MastersAsync();
        var probes = Scenario.PartitionsOn(masters, perMaster: 1, "startup-probe").Select(onMaster => onMaster[0]).Concat(partitions).ToArray();
        var recovered = await Scenario.WaitUntilStoreBackedAsync(probes, RecoveryDeadline, upAt);
        var records = await load.StopAsync();

        // Assert
        var whileDown = records.Where(r => r.StartedAt < startedAt).ToArray();
        Output.WriteLine(ScenarioFigures.Line(
            "startup_outage",
            ("recover_ms", recovered),
            ("cluster_start_ms", Stopwatch.GetElapsedTime(startedAt, upAt)),
            ("failure_mode_decisions", records.Count(r => r.ByFailureMode)),
            ("decisions_while_down", whileDown.Length),
            ("failure_mode_latency_max_ms", whileDown.Select(r => r.Latency).DefaultIfEmpty().Max()),
            ("reconnects", Scenario.Connection.Supervisor.Reconnects),
            ("multiplexers_created", Scenario.Connection.Supervisor.Current?.Number),
            ("store_errors", Scenario.CountingStore.Errors),
            ("store_error_kinds", Scenario.CountingStore.ErrorSummary(createdAt)),
            ("reconnect_log", Scenario.ReconnectSummary(createdAt))));

        Assert.All(records, r => Assert.Null(r.Error));
        Assert.NotEmpty(whileDown);
        Assert.All(whileDown, r => Assert.Equal(RateLimitDecisionSource.LocalFallback, r.Source));
    }
}
