using NodaTime;
using NodaTime.Testing;
using RateLimiting.Redis.Store;
using RateLimiting.Redis.Tests.Infrastructure;
using RateLimiting.Store;

namespace RateLimiting.Redis.Tests.Store;

/// <summary>Penalty blocks on the test cluster: decided with the quota in one call, seen by every instance, exact on the fake clock.</summary>
[Collection(RedisClusterCollection.Name)]
public sealed class BlockTests : IAsyncLifetime
{
    private const string Policy = "block-tests";
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    private static readonly RateLimitBlock Penalty = new(AfterRejections: 3, Within: TimeSpan.FromMinutes(10), Duration: TimeSpan.FromHours(1));

    private readonly RedisClusterFixture _cluster;
    private readonly List<RedisRateLimitStore> _stores = [];
    private readonly FakeClock _clock = new(SystemClock.Instance.GetCurrentInstant());

    public BlockTests(RedisClusterFixture cluster) => _cluster = cluster;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }
    }

    [Fact]
    public async Task DecideAsync_ThirdRejectionOnEitherInstance_BlocksThePartitionOnBothUntilTheBlockEnds()
    {
        var (first, second) = (NewInstance(), NewInstance());
        var partition = NewPartition();

        var admitted = await first.DecideAsync(Request(partition), CancellationToken.None);
        var rejections = new[]
        {
            await first.DecideAsync(Request(partition), CancellationToken.None),
            await second.DecideAsync(Request(partition), CancellationToken.None),
        };
        var starting = await first.DecideAsync(Request(partition), CancellationToken.None);
        _clock.Advance(Duration.FromMinutes(2));
        var blockedWithRoom = await second.DecideAsync(Request(partition), CancellationToken.None);
        _clock.Advance(Duration.FromMinutes(58) - Duration.FromTicks(10));
        var lastBlocked = await first.DecideAsync(Request(partition), CancellationToken.None);
        _clock.Advance(Duration.FromTicks(10));
        var afterBlock = await second.DecideAsync(Request(partition), CancellationToken.None);

        Assert.True(admitted.IsAllowed);
        Assert.All(rejections, r => Assert.Equal(RateLimitRejectReason.QuotaExceeded, r.Reason));
        Assert.Equal((RateLimitRejectReason.Blocked, TimeSpan.FromHours(1), 0), (starting.Reason, starting.RetryAfter, starting.Remaining));
        Assert.Equal((RateLimitRejectReason.Blocked, TimeSpan.FromMinutes(58), 0), (blockedWithRoom.Reason, blockedWithRoom.RetryAfter, blockedWithRoom.Remaining));
        Assert.Equal((RateLimitRejectReason.Blocked, TimeSpan.FromMicroseconds(1)), (lastBlocked.Reason, lastBlocked.RetryAfter));
        Assert.True(afterBlock.IsAllowed);
    }

    [Fact]
    public async Task DecideAsync_RejectionsFurtherApartThanWithin_NeverBlock()
    {
        var store = NewInstance();
        var partition = NewPartition();
        Assert.True((await store.DecideAsync(Request(partition), CancellationToken.None)).IsAllowed);

        var reasons = new List<RateLimitRejectReason>();
        for (var i = 0; i < 5; i++)
        {
            reasons.Add((await store.DecideAsync(Request(partition), CancellationToken.None)).Reason);
            _clock.Advance(Duration.FromMinutes(5) + Duration.FromTicks(10));
            // Refill the window so that each rejection follows an admission.
            reasons.Add((await store.DecideAsync(Request(partition), CancellationToken.None)).Reason);
        }

        Assert.Equal(Enumerable.Repeat(new[] { RateLimitRejectReason.QuotaExceeded, RateLimitRejectReason.None }, 5).SelectMany(pair => pair), reasons);
    }

    [Fact]
    public async Task DecideAsync_ManyConcurrentCallersOnTwoInstances_AdmitExactlyTheLimitThenAllAreBlocked()
    {
        var instances = new[] { NewInstance(), NewInstance() };
        var partition = NewPartition();
        const int Limit = 10;

        var verdicts = await Task.WhenAll(Enumerable.Range(0, 128).Select(i =>
            instances[i % 2].DecideAsync(Request(partition, Limit), CancellationToken.None).AsTask()));
        var later = await instances[0].DecideAsync(Request(partition, Limit), CancellationToken.None);

        Assert.Equal(Limit, verdicts.Count(v => v.IsAllowed));
        Assert.Equal(Penalty.AfterRejections - 1, verdicts.Count(v => v.Reason == RateLimitRejectReason.QuotaExceeded));
        Assert.Equal(128 - Limit - Penalty.AfterRejections + 1, verdicts.Count(v => v.Reason == RateLimitRejectReason.Blocked));
        Assert.Equal(RateLimitRejectReason.Blocked, later.Reason);
    }

    [Fact]
    public async Task DecideAsync_SameRequestsWithoutBlock_NeverBlocked()
    {
        var store = NewInstance();
        var partition = NewPartition();

        var reasons = new List<RateLimitRejectReason>();
        for (var i = 0; i < 6; i++)
        {
            reasons.Add((await store.DecideAsync(Request(partition) with { Block = null }, CancellationToken.None)).Reason);
        }

        Assert.Equal([RateLimitRejectReason.None, .. Enumerable.Repeat(RateLimitRejectReason.QuotaExceeded, 5)], reasons);
    }

    private static string NewPartition() => "blocked-" + Guid.NewGuid().ToString("N");

    private static RateLimitRequest Request(string partition, int limit = 1) => new(Policy, partition, limit, Window, cost: 1) { Block = Penalty };

    private RedisRateLimitStore NewInstance()
    {
        var store = new RedisRateLimitStore(new RedisStoreOptions
        {
            Configuration = _cluster.ConfigurationString,
            Clock = _clock,
            OperationTimeout = TimeSpan.FromSeconds(10),
        });
        _stores.Add(store);
        return store;
    }
}
