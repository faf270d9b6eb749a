using System.Diagnostics;
using RateLimiting.Redis.Internal.Connection;
using RateLimiting.Redis.Tests.Infrastructure;
using RateLimiting.Redis.Tests.Infrastructure.FaultProxy;
using RateLimiting.Redis.Tests.Resilience;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace RateLimiting.Redis.Tests.Tls;

/// <summary>
/// <see cref="MovedLoopTests"/> in the production set-up: a TLS-only, password-protected cluster
/// whose nodes announce the ports of a TLS-terminating <see cref="RedisFaultProxy"/>. Every open
/// connection suddenly talks to another master (the proxy authenticates the new TLS session for
/// the client), which answers MOVED naming the endpoint the connection was opened to, forever.
/// StackExchange.Redis 1.2.6 never recovers by itself; the layer replaces the multiplexer, once.
/// </summary>
[Collection(DestructiveClusterCollection.Name)]
public sealed class TlsMovedLoopTests : ResilienceScenarioTests
{
    private const int Callers = 50;
    private static readonly TimeSpan CallerPause = TimeSpan.FromMilliseconds(1);
    private static readonly TimeSpan MinimumObservation = TimeSpan.FromSeconds(5);
    private static readonly TimeSpan RecoveryDeadline = TimeSpan.FromSeconds(30);
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan FirstConnections = TimeSpan.FromSeconds(60); // a process's first TLS connections are slow

    // The proxy terminates TLS in this process, on the thread pool that StackExchange.Redis 1.2.6
    // blocks while it connects (its TLS handshake and connect are synchronous): on 2 cores the
    // replacement multiplexer's handshakes can wait seconds for the pool to grow, an artefact of
    // the test, not of the layer. Enough threads from the start; restored afterwards.
    private const int MinWorkerThreads = 64;

    private int _savedMinWorkers;
    private int _savedMinIo;

    public TlsMovedLoopTests(ITestOutputHelper output)
        : base(output)
    {
    }

    private protected override Task<ResilienceScenario> CreateScenarioAsync() => ResilienceScenario.CreateAsync(FailureMode.FailOpen, tls: true);

    public override Task InitializeAsync()
    {
        ThreadPool.GetMinThreads(out _savedMinWorkers, out _savedMinIo);
        ThreadPool.SetMinThreads(Math.Max(_savedMinWorkers, MinWorkerThreads), _savedMinIo);
        return base.InitializeAsync();
    }

    public override async Task DisposeAsync()
    {
        try
        {
            await base.DisposeAsync();
        }
        finally
        {
            ThreadPool.SetMinThreads(_savedMinWorkers, _savedMinIo);
        }
    }

    [Fact]
    public async Task Store_MovedLoopOverTls_OneReconnectAndRedisBackedAgain()
    {
        // Arrange: the store and a plain multiplexer (the control), both connected over TLS to every master.
        var cluster = Scenario.Cluster;
        Assert.True(cluster.IsTls);
        var masters = await cluster.MastersAsync();
        var partitions = Scenario.PartitionsOn(masters, perMaster: 4, "tlsmoved");
        var probes = partitions.Select(onMaster => onMaster[0]).ToArray();
        await Scenario.WaitUntilStoreBackedAsync(probes, FirstConnections, Stopwatch.GetTimestamp());
        var controlOptions = ConfigurationOptions.Parse(cluster.ConfigurationString + ",abortConnect=false,connectTimeout=5000");
        var validator = new RedisCertificateValidator(RedisCertificateValidator.LoadTrustedCas(cluster.CaCertificatePath), sslHostConfigured: true);
        controlOptions.CertificateValidation += validator.Validate;
        using var control = await ConnectionMultiplexer.ConnectAsync(controlOptions);
        var controlDatabase = control.GetDatabase();
        var controlKeys = masters.Select((master, index) => ClusterPartitions.KeyOn(master, $"tlscontrol{index}")).ToArray();
        foreach (var key in controlKeys)
        {
            await Poll.UntilAsync(
                async () => (await MovedLoopTests.SweepAsync(controlDatabase, [key]))[0] == "ok"
                    && await controlDatabase.StringSetAsync(key, "before").WaitAsync(Generous),
                written => written,
                FirstConnections);
        }

        var before = Scenario.Connection.Current!;
        var misroute = cluster.EachMasterToTheNext(masters);
        await using var load = DecisionLoad.Start(Scenario.Decider, [.. partitions.SelectMany(p => p)], Callers, CallerPause);
        await Poll.UntilAsync(() => Task.FromResult(load.Count), count => count >= 1000, Generous);

        // Act: every open connection to a master now reaches the next master, authenticated by the proxy.
        var faultAt = Stopwatch.GetTimestamp();
        Scenario.CountingStore.Reset(); // count the scenario's errors, not the warm-up's
        cluster.Proxy.SetMode(ProxyMode.MisrouteExisting, misroute);
        using var stopControl = new CancellationTokenSource();
        var controlOutcomes = MovedLoopTests.ObserveAsync(controlDatabase, controlKeys, faultAt, stopControl.Token);
        var recovered = await Scenario.WaitUntilStoreBackedAsync(probes, RecoveryDeadline, faultAt);
        await ResilienceScenario.ObserveUntilAsync(faultAt, recovered, MinimumObservation);

        var records = await load.StopAsync();
        await stopControl.CancelAsync();
        var outcomes = await controlOutcomes;
        var lastSweep = await MovedLoopTests.SweepAsync(controlDatabase, controlKeys);
        await Poll.UntilAsync(() => Task.FromResult(before.IsClosed), closed => closed, Generous);

        // Assert
        var afterFault = records.Where(r => r.StartedAt >= faultAt).ToArray();
        var failureMode = afterFault.Count(r => r.ByFailureMode);
        var recoveredAt = faultAt + (long)(recovered.TotalSeconds * Stopwatch.Frequency);
        Output.WriteLine(ScenarioFigures.Line(
            "moved_loop_tls",
            ("recover_ms", recovered),
            ("failure_mode_decisions", failureMode),
            ("reconnects", Scenario.Connection.Reconnects),
            ("reconnect_log", Scenario.ReconnectSummary(faultAt)),
            ("store_errors", Scenario.CountingStore.Errors),
            ("store_error_kinds", Scenario.CountingStore.ErrorSummary(faultAt)),
            ("decisions_after_fault", afterFault.Length),
            ("observed_ms", Stopwatch.GetElapsedTime(faultAt)),
            ("control_calls", outcomes.Count),
            ("control_outcomes", string.Join(',', outcomes.GroupBy(o => o.Outcome).Select(g => $"{g.Key}:{g.Count()}"))),
            ("proxy_connections", cluster.Proxy.AcceptedConnections),
            ("generations", Scenario.Connection.Current?.Number)));

        Assert.All(records, r => Assert.Null(r.Error));
        Assert.True(failureMode > 0, "The fault never reached the store's callers.");
        Assert.Equal(1, Scenario.Connection.Reconnects);
        Assert.Equal(before.Number + 1, Scenario.Connection.Current!.Number); // one new multiplexer for 50 callers, none dropped
        Assert.True(before.IsClosed);
        DecisionAssert.AnsweredByStore([.. records.Where(r => r.StartedAt > recoveredAt)], Scenario.CountingStore, _ => true, recoveredAt, long.MaxValue, "After recovery");

        // The control proves the fault real over TLS: not one success (and no NOAUTH: the proxy
        // authenticated the new sessions), still MOVED at the end of the period.
        Assert.DoesNotContain(outcomes, o => o.Outcome == "ok");
        Assert.DoesNotContain(outcomes, o => o.Outcome == "NOAUTH");
        Assert.True(outcomes.Count(o => o.Outcome == "MOVED") >= 10, "The control saw too few MOVED replies.");
        Assert.All(lastSweep, outcome => Assert.Equal("MOVED", outcome));
    }
}
