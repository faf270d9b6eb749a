using System.Diagnostics;
using RateLimiting.Policies;
using RateLimiting.Redis.Resilience;
using RateLimiting.Redis.Tests.Infrastructure;
using RateLimiting.Redis.Tests.Infrastructure.FaultProxy;
using Xunit.Abstractions;

namespace RateLimiting.Redis.Tests.Resilience;

/// <summary>
/// A MOVED loop that a fresh multiplexer does not escape either: every connection to a master,
/// new ones included, reaches another master. Reconnecting cannot help, so the layer must keep
/// its reconnect attempts paced (the minimum interval, doubling) while the failure mode answers,
/// swap in no fresh multiplexer that serves no more slots than the stuck one, and recover within a
/// second of the network's repair.
/// </summary>
[Collection(DestructiveClusterCollection.Name)]
public sealed class PermanentMisrouteTests : ResilienceScenarioTests
{
    private const int Callers = 50;
    private static readonly TimeSpan CallerPause = TimeSpan.FromMilliseconds(1);
    // Long enough that the first reconnect has ended inside it: it starts after 5 s of timeouts,
    // which the breakers' probes report once the breakers are open, and settling the fresh
    // multiplexer takes a while more (one run ended it at 6.03 s, past a period of 6 s).
    private static readonly TimeSpan Observation = TimeSpan.FromSeconds(8);
    private static readonly TimeSpan RecoveryDeadline = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(15);


    public PermanentMisrouteTests(ITestOutputHelper output)
        : base(output)
    {
    }

    private protected override Task<ResilienceScenario> CreateScenarioAsync() => ResilienceScenario.CreateAsync(FailureMode.FailClosed);

    [Fact]
    public async Task Store_MisrouteOfEveryConnectionPersists_ReconnectsStayPacedAndFailureModeAnswersUntilRepaired()
    {
        // Arrange
        var cluster = Scenario.Cluster;
        var masters = await cluster.MastersAsync();
        var partitions = Scenario.PartitionsOn(masters, perMaster: 4, "permanent");
        var probes = partitions.Select(onMaster => onMaster[0]).ToArray();
        await Scenario.WaitUntilStoreBackedAsync(probes, Generous, Stopwatch.GetTimestamp());
        var generationBefore = Scenario.Connection.Supervisor.Current!.Number;
        var acceptedBefore = cluster.Proxy.AcceptedConnections;
        await using var load = DecisionLoad.Start(Scenario.Decider, [.. partitions.SelectMany(p => p)], Callers, CallerPause);
        await Poll.UntilAsync(() => Task.FromResult(load.Count), count => count >= 1000, Generous);

        // Act: the fault, observed for a fixed period, then the repair.
        var faultAt = Stopwatch.GetTimestamp();
        Scenario.CountingStore.Reset(); // count the scenario's errors, not the warm-up's
        cluster.Proxy.SetMode(ProxyMode.MisrouteAll, cluster.EachMasterToTheNext(masters));
        await Task.Delay(Observation); // the observation period over which reconnects are counted
        var reconnectsDuringFault = Scenario.Connection.Supervisor.Reconnects;
        var attemptsDuringFault = Scenario.ReconnectAttemptsSince(faultAt);
        var generationsDuringFault = Scenario.Connection.Supervisor.Current!.Number - generationBefore;
        var connectionsDuringFault = cluster.Proxy.AcceptedConnections - acceptedBefore;
        var repairedAt = Stopwatch.GetTimestamp();
        cluster.Proxy.Restore();
        var recovered = await Scenario.WaitUntilStoreBackedAsync(probes, RecoveryDeadline, repairedAt);
        var records = await load.StopAsync();

        // Assert
        var duringFault = records.Where(r => r.StartedAt > faultAt && r.StartedAt < repairedAt).ToArray();
        var failureMode = duringFault.Count(r => r.ByFailureMode);
        var allowed = MostReconnectsIn(Observation, Scenario.StoreOptions.Resilience);
        Output.WriteLine(ScenarioFigures.Line(
            "permanent_misroute",
            ("recover_ms", recovered),
            ("failure_mode_decisions", failureMode),
            ("client", RedisClient.Version),
            ("reconnect_attempts", attemptsDuringFault),
            ("reconnects", reconnectsDuringFault),
            ("reconnects_allowed", allowed),
            ("generations_during_fault", generationsDuringFault),
            ("proxy_connections", connectionsDuringFault),
            ("store_errors", Scenario.CountingStore.Errors),
            ("store_error_kinds", Scenario.CountingStore.ErrorSummary(faultAt)),
            ("decisions_during_fault", duringFault.Length),
            ("reconnect_log", Scenario.ReconnectSummary(faultAt))));

        Assert.All(records, r => Assert.Null(r.Error)); // the failure mode answered every decision
        Assert.True(failureMode > 0, "The fault never reached the store's callers.");
        Assert.InRange(attemptsDuringFault, 1, allowed);
        Assert.InRange(reconnectsDuringFault, 0, attemptsDuringFault);
        Assert.InRange(generationsDuringFault, reconnectsDuringFault, attemptsDuringFault); // no multiplexer beyond the paced attempts
    }

    /// <summary>
    /// The most reconnects pacing lets through in <paramref name="period"/> after the fault: gaps of at
    /// least the minimum interval, doubling, capped (jitter only lengthens them); 4 in 8 s from 1 s.
    /// Plus one, because the period really ends when <c>Task.Delay</c> returns, which a busy machine
    /// may overshoot by a second or more; a storm would be far beyond it.
    /// </summary>
    private static long MostReconnectsIn(TimeSpan period, RedisResilienceOptions options)
    {
        long count = 1;
        var elapsed = TimeSpan.Zero;
        for (var gap = options.MinReconnectInterval; ; gap = gap * 2 > options.MaxReconnectInterval ? options.MaxReconnectInterval : gap * 2)
        {
            elapsed += gap;
            if (elapsed > period)
            {
                return count + 1;
            }

            count++;
        }
    }
}
