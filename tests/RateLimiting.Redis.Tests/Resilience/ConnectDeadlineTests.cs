using RateLimiting.Redis.Store;
using RateLimiting.Redis.Tests.Infrastructure;
using RateLimiting.Redis.Tests.Infrastructure.FaultProxy;
using RateLimiting.Store;
using StackExchange.Redis;

namespace RateLimiting.Redis.Tests.Resilience;

/// <summary>
/// A connect that never finishes by itself must not hold the store forever: it is abandoned at its
/// deadline and a later call connects again. A factory that stops at its token's cancellation is
/// retried the same way, and so is the client's own connect to a node that stalls mid-connect.
/// What a factory returns belongs to the application: the store never closes it.
/// </summary>
[Collection(RedisClusterCollection.Name)]
public sealed class ConnectDeadlineTests
{
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(60);

    private readonly RedisClusterFixture _cluster;

    public ConnectDeadlineTests(RedisClusterFixture cluster) => _cluster = cluster;

    [Fact]
    public async Task DecideAsync_FirstConnectHangs_AbandonedAtTheDeadlineThenRedisDecides()
    {
        // Arrange: the first connect ignores its token and finishes only once the store has moved on.
        var tokenCancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var secondAttempt = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var late = new TaskCompletionSource<IConnectionMultiplexer>(TaskCreationOptions.RunContinuationsAsynchronously);
        var attempts = 0;
        var store = new RedisRateLimitStore(new RedisStoreOptions
        {
            ConnectionFactory = async token =>
            {
                if (Interlocked.Increment(ref attempts) > 1)
                {
                    secondAttempt.TrySetResult();
                    return await ConnectionMultiplexer.ConnectAsync(_cluster.ConfigurationString);
                }

                token.Register(tokenCancelled.SetResult);
                await secondAttempt.Task;
                var multiplexer = await ConnectionMultiplexer.ConnectAsync(_cluster.ConfigurationString);
                late.SetResult(multiplexer);
                return multiplexer;
            },
        });
        var request = NewRequest();

        // Act
        var whileConnecting = await Record.ExceptionAsync(() => store.DecideAsync(request, CancellationToken.None).AsTask());
        await tokenCancelled.Task.WaitAsync(Generous);
        var decided = await Poll.UntilAsync(() => TryDecideAsync(store, request), decision => decision is not null, Generous);
        using var lateMultiplexer = await late.Task.WaitAsync(Generous);
        await store.DisposeAsync().AsTask().WaitAsync(Generous);

        // Assert
        Assert.IsType<TimeoutException>(whileConnecting); // the call's own deadline
        Assert.True(decided!.Value.IsAllowed);
        Assert.Equal(2, attempts);
        Assert.True(lateMultiplexer.IsConnected); // the application's, not the store's
    }

    [Fact]
    public async Task DisposeAsync_FactoryReturnsTheApplicationsMultiplexer_LeavesItConnected()
    {
        // Arrange: an application that shares the IConnectionMultiplexer it registered.
        using var shared = await ConnectionMultiplexer.ConnectAsync(_cluster.ConfigurationString).WaitAsync(Generous);
        var store = new RedisRateLimitStore(new RedisStoreOptions { ConnectionFactory = _ => Task.FromResult<IConnectionMultiplexer>(shared) });
        var decided = await Poll.UntilAsync(() => TryDecideAsync(store, NewRequest()), decision => decision is not null, Generous);

        // Act
        await store.DisposeAsync().AsTask().WaitAsync(Generous);

        // Assert
        Assert.True(decided!.Value.IsAllowed);
        Assert.True(shared.IsConnected);
        Assert.True(await shared.GetDatabase().PingAsync().WaitAsync(Generous) >= TimeSpan.Zero);
    }

    [Fact]
    public async Task DecideAsync_FactoryHonoursItsToken_ConnectsAgainAfterTheDeadline()
    {
        // Arrange: the first connect waits until the store cancels its token.
        var attempts = 0;
        await using var store = new RedisRateLimitStore(new RedisStoreOptions
        {
            ConnectionFactory = async token =>
            {
                if (Interlocked.Increment(ref attempts) == 1)
                {
                    await Task.Delay(Timeout.Infinite, token);
                }

                return await ConnectionMultiplexer.ConnectAsync(_cluster.ConfigurationString);
            },
        });
        var request = NewRequest();

        // Act
        var decided = await Poll.UntilAsync(() => TryDecideAsync(store, request), decision => decision is not null, Generous);

        // Assert
        Assert.True(decided!.Value.IsAllowed);
        Assert.Equal(2, attempts);
    }

    [Fact]
    public async Task DecideAsync_NodeStallsDuringConnect_ConnectsAgainAndShutsDown()
    {
        // Arrange: a node that answers the client's handshake, then never the CLUSTER NODES its
        // connect sends; the client's own ConnectAsync waits for that forever.
        await using var node = StallingClusterNode.Start();
        var store = new RedisRateLimitStore(new RedisStoreOptions { Configuration = $"127.0.0.1:{node.Port},connectTimeout=500" });
        var request = NewRequest();

        // Act: calls go on while the connects stall, until a second connect has stalled too.
        var errors = new List<Exception?>();
        await Poll.UntilAsync(
            async () =>
            {
                errors.Add(await Record.ExceptionAsync(() => store.DecideAsync(request, CancellationToken.None).AsTask()));
                return node.StalledConnections;
            },
            stalled => stalled >= 2,
            Generous);
        var shutdown = await Record.ExceptionAsync(() => store.DisposeAsync().AsTask().WaitAsync(Generous));

        // Assert: every call ended at its own deadline, or at once once the breaker of "no
        // connection" opened, and shutting down did not wait for a stalled connect.
        Assert.All(errors, error => Assert.True(error is TimeoutException or RateLimitStoreUnavailableException, error?.ToString()));
        Assert.Null(shutdown);
    }

    private static RateLimitRequest NewRequest() => new("connect-deadline", Guid.NewGuid().ToString("N"), 10, TimeSpan.FromMinutes(1), 1);

    private static async Task<RateLimitDecision?> TryDecideAsync(RedisRateLimitStore store, RateLimitRequest request)
    {
        try
        {
            return await store.DecideAsync(request, CancellationToken.None);
        }
        catch (Exception ex) when (ex is TimeoutException or RateLimitStoreUnavailableException)
        {
            return null; // still the abandoned attempt's deadline, or the breaker it opened
        }
    }
}
