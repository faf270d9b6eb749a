using System.Diagnostics;
using RateLimiting.Policies;
using RateLimiting.Redis.Tests.Infrastructure;
using RateLimiting.Redis.Tests.Infrastructure.FaultProxy;
using RateLimiting.Redis.Tests.Resilience;
using RateLimiting.Redis.Tls;
using StackExchange.Redis;
using Xunit.Abstractions;

namespace RateLimiting.Redis.Tests.Tls;

/// <summary>
/// <see cref="MovedLoopTests"/> in the production set-up: a TLS-only, password-protected cluster
/// whose nodes announce the ports of a TLS-terminating <see cref="RedisFaultProxy"/>. Every open
/// connection suddenly talks to another master (the proxy authenticates the new TLS session for
/// the client), which answers MOVED naming the endpoint the connection was opened to, forever.
/// StackExchange.Redis 2.7–2.10 never recover by themselves and the layer replaces the multiplexer,
/// once; 2.11.8 and later reconnect such connections themselves and the layer adds nothing.
/// </summary>
[Collection(DestructiveClusterCollection.Name)]
public sealed class TlsMovedLoopTests : ResilienceScenarioTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(15);
    private static readonly TimeSpan FirstConnections = TimeSpan.FromSeconds(60); // a process's first TLS connections are slow

    // The proxy terminates TLS in this process, on the thread pool that the client's own reconnects
    // and 50 callers share: on 2 cores the new connections' handshakes can wait seconds for the pool
    // to grow, an artefact of the test, not of the layer. Enough threads from the start; restored afterwards.
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
        await Scenario.WaitUntilStoreBackedAsync(partitions.Select(onMaster => onMaster[0]), FirstConnections, Stopwatch.GetTimestamp());
        var controlOptions = ConfigurationOptions.Parse(cluster.ConfigurationString + ",abortConnect=false,connectTimeout=5000");
        var validator = new RedisCertificateValidator(RedisCertificateValidator.LoadTrustedCas(cluster.CaCertificatePath), sslHostConfigured: true, rejected: _ => { });
        controlOptions.CertificateValidation += validator.Validate;
        using var control = await ConnectionMultiplexer.ConnectAsync(controlOptions).WaitAsync(FirstConnections);
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

        // Act and assert: the proxy authenticates the new TLS sessions, so the control never sees NOAUTH.
        var outcomes = await MovedLoopTests.MisrouteAndAssertRecoveryAsync(Scenario, masters, partitions, controlDatabase, controlKeys, Output, "moved_loop_tls");
        Assert.DoesNotContain(outcomes, o => o.Outcome == "NOAUTH");
    }
}
