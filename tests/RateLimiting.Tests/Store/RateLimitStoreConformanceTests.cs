using NodaTime;
using NodaTime.Testing;
using RateLimiting.Store;

namespace RateLimiting.Tests.Store;

/// <summary>
/// The contract every <see cref="IRateLimitStore"/> keeps, run against each implementation with a
/// fake clock so that every expected time is exact.
/// </summary>
public abstract class RateLimitStoreConformanceTests
{
    protected static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    protected FakeClock Clock { get; } = new FakeClock(SystemClock.Instance.GetCurrentInstant());

    /// <summary>A store reading <see cref="Clock"/>.</summary>
    protected abstract IRateLimitStore Store { get; }

    /// <summary>A partition no other test uses, so that tests sharing a store stay independent.</summary>
    protected static string NewPartition() => "user-" + Guid.NewGuid().ToString("N");

    protected ValueTask<RateLimitDecision> DecideAsync(string partition, int cost = 1, int limit = 5, string policy = "conformance", TimeSpan? window = null)
        => Store.DecideAsync(new RateLimitRequest(policy, partition, limit, window ?? Window, cost), CancellationToken.None);

    [Fact]
    public async Task DecideAsync_UpToLimit_AdmitsThenRejectsWithExactRetryAfter()
    {
        var partition = NewPartition();

        var remaining = new List<int>();
        for (var i = 0; i < 5; i++)
        {
            var admitted = await DecideAsync(partition);
            Assert.True(admitted.IsAllowed);
            remaining.Add(admitted.Remaining);
            Clock.Advance(Duration.FromSeconds(1));
        }

        var rejected = await DecideAsync(partition);

        Assert.Equal([4, 3, 2, 1, 0], remaining);
        Assert.False(rejected.IsAllowed);
        Assert.Equal(RateLimitRejectReason.QuotaExceeded, rejected.Reason);
        Assert.Equal(0, rejected.Remaining);
        Assert.Equal(5, rejected.Limit);
        Assert.Equal(TimeSpan.FromSeconds(55), rejected.RetryAfter);
        Assert.Equal(TimeSpan.FromSeconds(55), rejected.ResetAfter);
    }

    [Fact]
    public async Task DecideAsync_OldestEntryLeavesWindow_AdmitsExactlyAtRetryAfter()
    {
        var partition = NewPartition();
        for (var i = 0; i < 5; i++)
        {
            await DecideAsync(partition);
        }

        Clock.Advance(Duration.FromSeconds(40));
        var rejected = await DecideAsync(partition);
        Clock.Advance(Duration.FromTimeSpan(rejected.RetryAfter) - Duration.FromMilliseconds(1));
        var stillRejected = await DecideAsync(partition);
        Clock.Advance(Duration.FromMilliseconds(1));
        var admitted = await DecideAsync(partition, cost: 5);

        Assert.Equal(TimeSpan.FromSeconds(20), rejected.RetryAfter);
        Assert.False(stillRejected.IsAllowed);
        Assert.True(admitted.IsAllowed);
        Assert.Equal(0, admitted.Remaining);
    }

    [Fact]
    public async Task DecideAsync_WeightedRequests_RetryAfterWaitsForEnoughOldEntries()
    {
        var partition = NewPartition();
        await DecideAsync(partition, cost: 4, limit: 10);
        Clock.Advance(Duration.FromSeconds(10));
        await DecideAsync(partition, cost: 4, limit: 10);
        Clock.Advance(Duration.FromSeconds(10));

        var needsOne = await DecideAsync(partition, cost: 4, limit: 10);
        var needsTwo = await DecideAsync(partition, cost: 10, limit: 10);
        var fits = await DecideAsync(partition, cost: 2, limit: 10);

        Assert.False(needsOne.IsAllowed);
        Assert.Equal(TimeSpan.FromSeconds(40), needsOne.RetryAfter);
        Assert.False(needsTwo.IsAllowed);
        Assert.Equal(TimeSpan.FromSeconds(50), needsTwo.RetryAfter);
        Assert.True(fits.IsAllowed);
        Assert.Equal(0, fits.Remaining);
    }

    [Fact]
    public async Task DecideAsync_CostAboveLimit_RejectedAtOnceWithoutRetryAfterAndRecordsNothing()
    {
        var partition = NewPartition();

        var rejected = await DecideAsync(partition, cost: 6);
        var next = await DecideAsync(partition, cost: 5);

        Assert.Equal(RateLimitRejectReason.CostExceedsLimit, rejected.Reason);
        Assert.Equal(TimeSpan.Zero, rejected.RetryAfter);
        Assert.Equal(5, rejected.Remaining);
        Assert.True(next.IsAllowed);
    }

    [Fact]
    public async Task DecideAsync_Rejected_RecordsNothing()
    {
        var partition = NewPartition();
        await DecideAsync(partition, cost: 3);

        for (var i = 0; i < 10; i++)
        {
            Assert.False((await DecideAsync(partition, cost: 3)).IsAllowed);
        }

        var last = await DecideAsync(partition, cost: 2);

        Assert.True(last.IsAllowed);
        Assert.Equal(0, last.Remaining);
    }

    [Fact]
    public async Task DecideAsync_ZeroCost_ReportsStateAndRecordsNothing()
    {
        var partition = NewPartition();
        await DecideAsync(partition, cost: 2);

        var peek = await DecideAsync(partition, cost: 0);
        var again = await DecideAsync(partition, cost: 0);

        Assert.True(peek.IsAllowed);
        Assert.Equal(3, peek.Remaining);
        Assert.Equal(3, again.Remaining);
    }

    [Fact]
    public async Task DecideAsync_EntryExactlyOneWindowOld_NoLongerCounts()
    {
        var partition = NewPartition();
        await DecideAsync(partition, cost: 5);

        Clock.Advance(Duration.FromTimeSpan(Window));
        var admitted = await DecideAsync(partition, cost: 5);

        Assert.True(admitted.IsAllowed);
        Assert.Equal(TimeSpan.Zero + Window, admitted.ResetAfter);
    }

    [Fact]
    public async Task DecideAsync_EmptyWindow_ResetAfterIsZeroOnPeek()
    {
        var peek = await DecideAsync(NewPartition(), cost: 0);

        Assert.Equal(TimeSpan.Zero, peek.ResetAfter);
        Assert.Equal(5, peek.Remaining);
    }

    [Fact]
    public async Task DecideAsync_LimitLoweredBelowUsage_RejectsAndReportsNoneRemaining()
    {
        var partition = NewPartition();
        await DecideAsync(partition, cost: 5, limit: 10);

        var rejected = await DecideAsync(partition, cost: 1, limit: 3);

        Assert.False(rejected.IsAllowed);
        Assert.Equal(0, rejected.Remaining);
        Assert.Equal(Window, rejected.RetryAfter);
    }

    [Fact]
    public async Task DecideAsync_SamePartitionOtherPolicy_HasItsOwnWindow()
    {
        var partition = NewPartition();
        await DecideAsync(partition, cost: 5, policy: "first");

        var other = await DecideAsync(partition, cost: 5, policy: "second");

        Assert.True(other.IsAllowed);
    }

    /// <summary>Keyed by name: xunit cannot tell some of these values apart in test names (lone surrogates).</summary>
    private static readonly Dictionary<string, string> Hostile = new()
    {
        ["empty"] = string.Empty,
        ["open-brace"] = "{",
        ["close-brace"] = "}",
        ["hash-tag"] = "{tag}",
        ["reversed-braces"] = "}{",
        ["braces-inside"] = "a}b{c",
        ["10-KB"] = new string('x', 10 * 1024),
        ["non-ascii"] = "日本語のキー",
        ["emoji"] = "emoji-\U0001F600",
        ["control-characters"] = "\0\r\n\t\u001b",
        ["lone-high-surrogate"] = "\uD800",
        ["lone-low-surrogate"] = "\uDC00",
        ["looks-like-a-key"] = "rl:{conformance:x}:e",
    };

    public static TheoryData<string> HostilePartitions() => new(Hostile.Keys);

    [Theory]
    [MemberData(nameof(HostilePartitions))]
    public async Task DecideAsync_HostilePartitionValue_WorksAndIsIndependent(string name)
    {
        var hostile = Hostile[name];
        var partition = hostile + Guid.NewGuid().ToString("N");
        var similar = Guid.NewGuid().ToString("N");

        var first = await DecideAsync(partition, cost: 5);
        var second = await DecideAsync(partition, cost: 1);
        var neighbour = await DecideAsync(hostile == string.Empty ? similar : hostile, cost: 0);

        Assert.True(first.IsAllowed);
        Assert.False(second.IsAllowed);
        Assert.Equal(5, neighbour.Remaining);
    }

    [Fact]
    public async Task DecideAsync_PartitionsDifferingOnlyInLoneSurrogates_DoNotCollide()
    {
        var suffix = Guid.NewGuid().ToString("N");
        await DecideAsync("\uD800" + suffix, cost: 5);

        var other = await DecideAsync("\uD801" + suffix, cost: 5);

        Assert.True(other.IsAllowed);
    }

    [Fact]
    public async Task DecideAsync_InvalidRequest_Throws()
    {
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await DecideAsync(NewPartition(), limit: 0));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await DecideAsync(NewPartition(), cost: -1));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await DecideAsync(NewPartition(), window: TimeSpan.Zero));
    }
}
