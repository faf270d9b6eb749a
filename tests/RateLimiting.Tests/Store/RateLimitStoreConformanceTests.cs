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

    /// <summary>Two windows of one partition, shortest first: 3 per 10 seconds and 5 per minute.</summary>
    protected static readonly RateLimitWindow[] Tiered = [new(3, TimeSpan.FromSeconds(10)), new(5, TimeSpan.FromMinutes(1))];

    /// <summary><see cref="Tiered"/>'s long window alone, as after a reload that removed the short one.</summary>
    protected static readonly RateLimitWindow[] LongOnly = [Tiered[1]];

    protected ValueTask<RateLimitDecision> DecideAsync(string partition, int cost = 1, int limit = 5, string policy = "conformance", TimeSpan? window = null)
        => Store.DecideAsync(new RateLimitRequest(policy, partition, limit, window ?? Window, cost), CancellationToken.None);

    protected ValueTask<RateLimitDecision> DecideAsync(string partition, RateLimitWindow[] limits, int cost = 1)
        => Store.DecideAsync(new RateLimitRequest("conformance", partition, limits, cost), CancellationToken.None);

    /// <summary>Takes back <paramref name="admitted"/>'s admission, repeating the request it was decided with.</summary>
    protected ValueTask RefundAsync(string partition, RateLimitWindow[] limits, int cost, in RateLimitDecision admitted)
        => Store.RefundAsync(new RateLimitRequest("conformance", partition, limits, cost), admitted.Admission, CancellationToken.None);

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

    [Fact]
    public async Task DecideAsync_WindowsNotShortestFirstOrEqual_Throws()
    {
        RateLimitWindow[] longestFirst = [Tiered[1], Tiered[0]];
        RateLimitWindow[] equal = [new(3, Window), new(5, Window)];

        await Assert.ThrowsAsync<ArgumentException>(async () => await DecideAsync(NewPartition(), longestFirst));
        await Assert.ThrowsAsync<ArgumentException>(async () => await DecideAsync(NewPartition(), equal));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () => await DecideAsync(NewPartition(), []));
    }

    [Fact]
    public async Task DecideAsync_ShortWindowRefillsWhileLongHolds_RetryAfterOfTheWindowThatRejects()
    {
        var partition = NewPartition();
        for (var i = 0; i < 3; i++)
        {
            await DecideAsync(partition, Tiered); // t = 0, 1, 2 s
            Clock.Advance(Duration.FromSeconds(1));
        }

        var shortFull = await DecideAsync(partition, Tiered); // t = 3 s: 3 of 3 in 10 s, 3 of 5 in 1 min
        Clock.Advance(Duration.FromSeconds(7));
        var refilled = await DecideAsync(partition, Tiered); // t = 10 s: the entry of t = 0 left the short window
        Clock.Advance(Duration.FromSeconds(1));
        var lastOfLong = await DecideAsync(partition, Tiered); // t = 11 s: 5 of 5 in 1 min
        Clock.Advance(Duration.FromSeconds(1));
        var longFull = await DecideAsync(partition, Tiered); // t = 12 s: the short window has room again
        Clock.Advance(Duration.FromSeconds(48));
        var longRefilled = await DecideAsync(partition, Tiered); // t = 60 s

        Assert.Equal(RateLimitRejectReason.QuotaExceeded, shortFull.Reason);
        Assert.Equal(TimeSpan.FromSeconds(7), shortFull.RetryAfter);
        Assert.Equal((0, 3, 0, TimeSpan.FromSeconds(7)), (shortFull.WindowIndex, shortFull.Limit, shortFull.Remaining, shortFull.ResetAfter));
        Assert.True(refilled.IsAllowed);
        Assert.True(lastOfLong.IsAllowed);
        Assert.Equal((1, 5, 0), (lastOfLong.WindowIndex, lastOfLong.Limit, lastOfLong.Remaining));
        Assert.Equal(RateLimitRejectReason.QuotaExceeded, longFull.Reason);
        Assert.Equal(TimeSpan.FromSeconds(48), longFull.RetryAfter);
        Assert.Equal((1, 5, 0, TimeSpan.FromSeconds(48)), (longFull.WindowIndex, longFull.Limit, longFull.Remaining, longFull.ResetAfter));
        Assert.True(longRefilled.IsAllowed);
    }

    [Fact]
    public async Task DecideAsync_BothWindowsFull_RetryAfterIsTheLaterOfTheirs()
    {
        var partition = NewPartition();
        await DecideAsync(partition, Tiered, cost: 2); // t = 0 s
        Clock.Advance(Duration.FromSeconds(52));
        await DecideAsync(partition, Tiered, cost: 3); // t = 52 s: 3 of 3 in 10 s, 5 of 5 in 1 min
        Clock.Advance(Duration.FromSeconds(3));

        var rejected = await DecideAsync(partition, Tiered); // t = 55 s

        // The long window has room at 60 s, the short one at 62 s: the request fits at 62 s.
        Assert.Equal(RateLimitRejectReason.QuotaExceeded, rejected.Reason);
        Assert.Equal(TimeSpan.FromSeconds(7), rejected.RetryAfter);
        // Both have none remaining: the longer window is reported, with its own reset.
        Assert.Equal((1, 5, 0, TimeSpan.FromSeconds(5)), (rejected.WindowIndex, rejected.Limit, rejected.Remaining, rejected.ResetAfter));
    }

    [Fact]
    public async Task DecideAsync_BothWindowsFullWeighted_RetryAfterWaitsForTheLongWindow()
    {
        var partition = NewPartition();
        await DecideAsync(partition, Tiered, cost: 2); // t = 0 s
        Clock.Advance(Duration.FromSeconds(20));
        await DecideAsync(partition, Tiered, cost: 2); // t = 20 s
        Clock.Advance(Duration.FromSeconds(5));
        await DecideAsync(partition, Tiered, cost: 1); // t = 25 s: 3 of 3 in 10 s, 5 of 5 in 1 min
        Clock.Advance(Duration.FromSeconds(1));

        var rejected = await DecideAsync(partition, Tiered); // t = 26 s
        Clock.Advance(Duration.FromSeconds(33));
        var stillRejected = await DecideAsync(partition, Tiered); // t = 59 s
        Clock.Advance(Duration.FromSeconds(1));
        var admitted = await DecideAsync(partition, Tiered, cost: 2); // t = 60 s

        // The short window has room at 30 s, the long one at 60 s.
        Assert.Equal(TimeSpan.FromSeconds(34), rejected.RetryAfter);
        Assert.Equal((1, 5, 0, TimeSpan.FromSeconds(34)), (rejected.WindowIndex, rejected.Limit, rejected.Remaining, rejected.ResetAfter));
        Assert.False(stillRejected.IsAllowed);
        Assert.Equal(TimeSpan.FromSeconds(1), stillRejected.RetryAfter);
        Assert.True(admitted.IsAllowed);
    }

    [Fact]
    public async Task DecideAsync_SeveralWindows_ReportsTheWindowWithLeastRemainingTheLongerOnATie()
    {
        var partition = NewPartition();
        RateLimitWindow[] limits = [new(10, TimeSpan.FromSeconds(10)), new(12, TimeSpan.FromMinutes(1))];

        var shortLeast = await DecideAsync(partition, limits, cost: 2); // t = 0 s: 8 and 10 remaining
        Clock.Advance(Duration.FromSeconds(10));
        var tie = await DecideAsync(partition, limits, cost: 1); // t = 10 s: 9 and 9 remaining
        Clock.Advance(Duration.FromSeconds(10));
        var longLeast = await DecideAsync(partition, limits, cost: 0); // t = 20 s: 10 and 9 remaining

        Assert.Equal((0, 10, 8, TimeSpan.FromSeconds(10)), (shortLeast.WindowIndex, shortLeast.Limit, shortLeast.Remaining, shortLeast.ResetAfter));
        Assert.Equal((1, 12, 9, TimeSpan.FromSeconds(50)), (tie.WindowIndex, tie.Limit, tie.Remaining, tie.ResetAfter));
        Assert.Equal((1, 12, 9, TimeSpan.FromSeconds(40)), (longLeast.WindowIndex, longLeast.Limit, longLeast.Remaining, longLeast.ResetAfter));
    }

    [Fact]
    public async Task DecideAsync_CostAboveTheSmallestLimit_CostExceedsLimitAtOnceAndRecordsNothing()
    {
        var partition = NewPartition();

        var rejected = await DecideAsync(partition, Tiered, cost: 4);
        var fits = await DecideAsync(partition, Tiered, cost: 3);

        Assert.Equal(RateLimitRejectReason.CostExceedsLimit, rejected.Reason);
        Assert.Equal(TimeSpan.Zero, rejected.RetryAfter);
        Assert.Equal(0, rejected.Admission);
        Assert.Equal((0, 3, 3), (rejected.WindowIndex, rejected.Limit, rejected.Remaining));
        Assert.True(fits.IsAllowed);
        Assert.Equal(0, fits.Remaining);
    }

    [Fact]
    public async Task DecideAsync_CostAboveTheSmallestLimitWhileTheLongerWindowHasLessLeft_ReportsTheSmallestLimit()
    {
        var partition = NewPartition();
        await DecideAsync(partition, Tiered, cost: 3);
        Clock.Advance(Duration.FromSeconds(10));
        await DecideAsync(partition, Tiered, cost: 1);

        var rejected = await DecideAsync(partition, Tiered, cost: 4);

        // The short window has 2 left and the long one 1: the body must still name the limit of 3.
        Assert.Equal(RateLimitRejectReason.CostExceedsLimit, rejected.Reason);
        Assert.Equal((0, 3, 2), (rejected.WindowIndex, rejected.Limit, rejected.Remaining));
    }

    [Fact]
    public async Task DecideAsync_ZeroCostOnSeveralWindows_ReportsStateAndRecordsNothing()
    {
        var partition = NewPartition();
        await DecideAsync(partition, Tiered, cost: 2);

        var peek = await DecideAsync(partition, Tiered, cost: 0);
        var again = await DecideAsync(partition, Tiered, cost: 0);
        var last = await DecideAsync(partition, Tiered, cost: 1);
        var peekWhenFull = await DecideAsync(partition, Tiered, cost: 0);
        var rejected = await DecideAsync(partition, Tiered, cost: 1);

        Assert.True(peek.IsAllowed);
        Assert.Equal((0, 1, 0L), (peek.WindowIndex, peek.Remaining, peek.Admission));
        Assert.Equal((0, 1, 0L), (again.WindowIndex, again.Remaining, again.Admission));
        Assert.True(last.IsAllowed);
        Assert.Equal(0, last.Remaining);
        Assert.True(peekWhenFull.IsAllowed);
        Assert.Equal(0, peekWhenFull.Remaining);
        Assert.Equal(TimeSpan.FromSeconds(10), rejected.RetryAfter);
    }

    [Fact]
    public async Task DecideAsync_Admitted_EachAdmissionHasItsOwnId()
    {
        var partition = NewPartition();

        var first = await DecideAsync(partition, Tiered);
        var second = await DecideAsync(partition, Tiered, cost: 2);
        var rejected = await DecideAsync(partition, Tiered);

        Assert.NotEqual(0, first.Admission);
        Assert.NotEqual(0, second.Admission);
        Assert.NotEqual(first.Admission, second.Admission);
        Assert.Equal(0, rejected.Admission);
    }

    [Fact]
    public async Task RefundAsync_Admission_RemainingBackInEveryWindowAndTheNextDecisionSeesIt()
    {
        var partition = NewPartition();
        var refunded = await DecideAsync(partition, Tiered, cost: 2); // t = 0 s
        Clock.Advance(Duration.FromSeconds(1));
        await DecideAsync(partition, Tiered, cost: 1); // t = 1 s: 3 of 3 in 10 s

        await RefundAsync(partition, Tiered, 2, refunded);
        var peek = await DecideAsync(partition, Tiered, cost: 0);
        var admitted = await DecideAsync(partition, Tiered, cost: 2);
        Clock.Advance(Duration.FromSeconds(14));
        var longWindow = await DecideAsync(partition, Tiered, cost: 0); // t = 15 s: the short window is empty

        Assert.Equal((0, 2, TimeSpan.FromSeconds(10)), (peek.WindowIndex, peek.Remaining, peek.ResetAfter));
        Assert.True(admitted.IsAllowed);
        Assert.Equal((1, 2, TimeSpan.FromSeconds(46)), (longWindow.WindowIndex, longWindow.Remaining, longWindow.ResetAfter));
    }

    [Fact]
    public async Task RefundAsync_OldestEntry_ResetMovesToTheNextOldestInEveryWindow()
    {
        var partition = NewPartition();
        var oldest = await DecideAsync(partition, Tiered); // t = 0 s
        Clock.Advance(Duration.FromSeconds(5));
        await DecideAsync(partition, Tiered, cost: 2); // t = 5 s
        Clock.Advance(Duration.FromSeconds(1));

        var before = await DecideAsync(partition, Tiered, cost: 0); // t = 6 s
        await RefundAsync(partition, Tiered, 1, oldest);
        var after = await DecideAsync(partition, Tiered, cost: 0);
        Clock.Advance(Duration.FromSeconds(14));
        var longWindow = await DecideAsync(partition, Tiered, cost: 0); // t = 20 s: the short window is empty

        Assert.Equal((0, 0, TimeSpan.FromSeconds(4)), (before.WindowIndex, before.Remaining, before.ResetAfter));
        Assert.Equal((0, 1, TimeSpan.FromSeconds(9)), (after.WindowIndex, after.Remaining, after.ResetAfter));
        Assert.Equal((1, 3, TimeSpan.FromSeconds(45)), (longWindow.WindowIndex, longWindow.Remaining, longWindow.ResetAfter));
    }

    [Fact]
    public async Task RefundAsync_OneWindowOldestEntry_ResetMovesAndCountsStayExact()
    {
        var partition = NewPartition();
        var oldest = await DecideAsync(partition, LongOnly); // t = 0 s
        Clock.Advance(Duration.FromSeconds(10));
        await DecideAsync(partition, LongOnly); // t = 10 s
        Clock.Advance(Duration.FromSeconds(10));

        var before = await DecideAsync(partition, LongOnly, cost: 0); // t = 20 s
        await RefundAsync(partition, LongOnly, 1, oldest);
        var after = await DecideAsync(partition, LongOnly, cost: 0);
        var fills = await DecideAsync(partition, LongOnly, cost: 4);
        var rejected = await DecideAsync(partition, LongOnly);

        Assert.Equal((3, TimeSpan.FromSeconds(40)), (before.Remaining, before.ResetAfter));
        Assert.Equal((4, TimeSpan.FromSeconds(50)), (after.Remaining, after.ResetAfter));
        Assert.True(fills.IsAllowed);
        Assert.Equal(TimeSpan.FromSeconds(50), rejected.RetryAfter);
    }

    [Fact]
    public async Task RefundAsync_AfterItLeftTheWindow_ChangesNothing()
    {
        var partition = NewPartition();
        var left = await DecideAsync(partition, LongOnly, cost: 2); // t = 0 s
        Clock.Advance(Duration.FromSeconds(30));
        await DecideAsync(partition, LongOnly); // t = 30 s
        Clock.Advance(Duration.FromSeconds(30));

        await RefundAsync(partition, LongOnly, 2, left); // t = 60 s: it has just left
        var fills = await DecideAsync(partition, LongOnly, cost: 4);
        var rejected = await DecideAsync(partition, LongOnly);

        Assert.True(fills.IsAllowed);
        Assert.Equal(0, fills.Remaining);
        Assert.False(rejected.IsAllowed);
        Assert.Equal(TimeSpan.FromSeconds(30), rejected.RetryAfter);
    }

    [Fact]
    public async Task RefundAsync_AfterItLeftTheShortWindowOnly_OnlyTheLongWindowGetsItBack()
    {
        var partition = NewPartition();
        var refunded = await DecideAsync(partition, Tiered, cost: 2); // t = 0 s
        Clock.Advance(Duration.FromSeconds(15));

        await RefundAsync(partition, Tiered, 2, refunded); // t = 15 s
        var fills = await DecideAsync(partition, Tiered, cost: 3);
        var rejected = await DecideAsync(partition, Tiered);
        Clock.Advance(Duration.FromSeconds(11));
        var longWindow = await DecideAsync(partition, Tiered, cost: 0); // t = 26 s: the short window is empty

        Assert.True(fills.IsAllowed);
        Assert.Equal(TimeSpan.FromSeconds(10), rejected.RetryAfter);
        Assert.Equal((1, 2), (longWindow.WindowIndex, longWindow.Remaining));
    }

    [Fact]
    public async Task RefundAsync_Twice_TheSecondTakesNothingBack()
    {
        var partition = NewPartition();
        var refunded = await DecideAsync(partition, Tiered, cost: 2);
        await DecideAsync(partition, Tiered, cost: 1);

        await RefundAsync(partition, Tiered, 2, refunded);
        await RefundAsync(partition, Tiered, 2, refunded);
        var fillsShort = await DecideAsync(partition, Tiered, cost: 2);
        var shortRejects = await DecideAsync(partition, Tiered);
        Clock.Advance(Duration.FromSeconds(10));
        var fillsLong = await DecideAsync(partition, Tiered, cost: 2);
        var longRejects = await DecideAsync(partition, Tiered);

        Assert.True(fillsShort.IsAllowed);
        Assert.Equal((TimeSpan.FromSeconds(10), 0), (shortRejects.RetryAfter, shortRejects.WindowIndex));
        Assert.True(fillsLong.IsAllowed);
        Assert.Equal((TimeSpan.FromSeconds(50), 1), (longRejects.RetryAfter, longRejects.WindowIndex));
    }

    [Fact]
    public async Task RefundAsync_UnknownAdmission_ChangesNothing()
    {
        var partition = NewPartition();
        var admitted = await DecideAsync(partition, Tiered, cost: 2);

        await Store.RefundAsync(new RateLimitRequest("conformance", partition, Tiered, 2), admitted.Admission + 1000, CancellationToken.None);
        await Store.RefundAsync(new RateLimitRequest("conformance", NewPartition(), Tiered, 2), admitted.Admission, CancellationToken.None);
        var peek = await DecideAsync(partition, Tiered, cost: 0);

        Assert.Equal(1, peek.Remaining);
    }

    [Fact]
    public async Task DecideAsync_WindowsReloadedTwoToOneToTwo_CountsStayExact()
    {
        var partition = NewPartition();
        await DecideAsync(partition, Tiered, cost: 2); // t = 0 s
        Clock.Advance(Duration.FromSeconds(1));
        var oneWindow = await DecideAsync(partition, LongOnly, cost: 2); // t = 1 s
        Clock.Advance(Duration.FromSeconds(1));

        var shortFull = await DecideAsync(partition, Tiered); // t = 2 s: 4 in 10 s, over its limit of 3
        Clock.Advance(Duration.FromSeconds(9));
        var lastOfLong = await DecideAsync(partition, Tiered); // t = 11 s: both earlier entries left the short window
        var longFull = await DecideAsync(partition, Tiered);
        var longFullInOneWindow = await DecideAsync(partition, LongOnly);

        Assert.Equal((0, 5, 1), (oneWindow.WindowIndex, oneWindow.Limit, oneWindow.Remaining));
        Assert.Equal(RateLimitRejectReason.QuotaExceeded, shortFull.Reason);
        Assert.Equal(TimeSpan.FromSeconds(8), shortFull.RetryAfter);
        Assert.Equal((0, 0), (shortFull.WindowIndex, shortFull.Remaining));
        Assert.True(lastOfLong.IsAllowed);
        Assert.Equal((1, 0, TimeSpan.FromSeconds(49)), (lastOfLong.WindowIndex, lastOfLong.Remaining, lastOfLong.ResetAfter));
        Assert.Equal(TimeSpan.FromSeconds(49), longFull.RetryAfter);
        Assert.Equal(TimeSpan.FromSeconds(49), longFullInOneWindow.RetryAfter);
    }

    [Fact]
    public async Task DecideAsync_ShortWindowLengthenedThenShortenedBack_RecountsFromTheEntries()
    {
        var partition = NewPartition();
        RateLimitWindow[] lengthened = [new(3, TimeSpan.FromSeconds(20)), Tiered[1]];
        await DecideAsync(partition, Tiered, cost: 2); // t = 0 s
        Clock.Advance(Duration.FromSeconds(12));
        await DecideAsync(partition, Tiered); // t = 12 s: the first entry left the 10 s window
        Clock.Advance(Duration.FromSeconds(1));

        var rejected = await DecideAsync(partition, lengthened, cost: 2); // t = 13 s: both entries are in the 20 s window
        Clock.Advance(Duration.FromSeconds(1));
        var admitted = await DecideAsync(partition, Tiered, cost: 2); // t = 14 s: one entry is in the 10 s window
        var bothFull = await DecideAsync(partition, Tiered, cost: 0);

        Assert.Equal(RateLimitRejectReason.QuotaExceeded, rejected.Reason);
        Assert.Equal(TimeSpan.FromSeconds(7), rejected.RetryAfter);
        Assert.Equal((0, 0), (rejected.WindowIndex, rejected.Remaining));
        Assert.True(admitted.IsAllowed);
        Assert.Equal((1, 0), (bothFull.WindowIndex, bothFull.Remaining));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(10)]
    public async Task RefundAsync_WindowsChangedSinceTheDecision_CountsStayExact(int shortSeconds)
    {
        // What a chain's refund meets when a reload fell between its decisions: the request as it was decided.
        var partition = NewPartition();
        RateLimitWindow[] decidedWith = shortSeconds == 0 ? LongOnly : [new(3, TimeSpan.FromSeconds(shortSeconds)), Tiered[1]];
        RateLimitWindow[] reloaded = [new(3, TimeSpan.FromSeconds(20)), Tiered[1]];
        var refunded = await DecideAsync(partition, decidedWith, cost: 2); // t = 0 s
        Clock.Advance(Duration.FromSeconds(1));
        var full = await DecideAsync(partition, reloaded); // t = 1 s: 3 of 3 in 20 s
        Clock.Advance(Duration.FromSeconds(1));

        await RefundAsync(partition, decidedWith, 2, refunded); // t = 2 s
        var admitted = await DecideAsync(partition, reloaded, cost: 2);
        var rejected = await DecideAsync(partition, reloaded);

        Assert.True(full.IsAllowed);
        Assert.Equal(0, full.Remaining);
        Assert.True(admitted.IsAllowed);
        Assert.Equal((0, 0), (admitted.WindowIndex, admitted.Remaining));
        Assert.Equal(TimeSpan.FromSeconds(19), rejected.RetryAfter);
    }

    [Fact]
    public async Task DecideAsync_ThreeWindows_EachCountedAndRefundedExactly()
    {
        var partition = NewPartition();
        RateLimitWindow[] limits = [new(2, TimeSpan.FromSeconds(1)), new(4, TimeSpan.FromSeconds(10)), new(6, Window)];
        await DecideAsync(partition, limits, cost: 2); // t = 0 s
        Clock.Advance(Duration.FromSeconds(1));
        var refunded = await DecideAsync(partition, limits, cost: 2); // t = 1 s: 4 of 4 in 10 s
        Clock.Advance(Duration.FromSeconds(1));

        var middleFull = await DecideAsync(partition, limits); // t = 2 s
        Clock.Advance(Duration.FromSeconds(8));
        var allFull = await DecideAsync(partition, limits, cost: 2); // t = 10 s: 2 of 2, 4 of 4, 6 of 6
        await RefundAsync(partition, limits, 2, refunded);
        var afterRefund = await DecideAsync(partition, limits, cost: 0);
        Clock.Advance(Duration.FromSeconds(1));
        var tied = await DecideAsync(partition, limits, cost: 0); // t = 11 s: 2 remaining in each
        var last = await DecideAsync(partition, limits, cost: 2);
        var rejected = await DecideAsync(partition, limits);

        Assert.Equal(TimeSpan.FromSeconds(8), middleFull.RetryAfter);
        Assert.Equal((1, 4, 0, TimeSpan.FromSeconds(8)), (middleFull.WindowIndex, middleFull.Limit, middleFull.Remaining, middleFull.ResetAfter));
        Assert.True(allFull.IsAllowed);
        Assert.Equal((2, 6, 0, TimeSpan.FromSeconds(50)), (allFull.WindowIndex, allFull.Limit, allFull.Remaining, allFull.ResetAfter));
        Assert.Equal((0, 0, TimeSpan.FromSeconds(1)), (afterRefund.WindowIndex, afterRefund.Remaining, afterRefund.ResetAfter));
        Assert.Equal((2, 2, TimeSpan.FromSeconds(49)), (tied.WindowIndex, tied.Remaining, tied.ResetAfter));
        Assert.True(last.IsAllowed);
        Assert.Equal(TimeSpan.FromSeconds(49), rejected.RetryAfter);
    }

    [Fact]
    public async Task DecideAsync_ConcurrentCallersOnSeveralWindows_AdmitExactlyWhatEveryWindowAllows()
    {
        var partition = NewPartition();
        RateLimitWindow[] limits = [new(30, TimeSpan.FromSeconds(10)), new(50, Window)];

        var shortWindow = await AdmitConcurrentlyAsync(partition, limits, callers: 100); // t = 0 s
        Clock.Advance(Duration.FromSeconds(10));
        var longWindow = await AdmitConcurrentlyAsync(partition, limits, callers: 100); // t = 10 s
        var peek = await DecideAsync(partition, limits, cost: 0);

        Assert.Equal(30, shortWindow);
        Assert.Equal(20, longWindow);
        Assert.Equal((1, 0, TimeSpan.FromSeconds(50)), (peek.WindowIndex, peek.Remaining, peek.ResetAfter));
    }

    [Fact]
    public async Task DecideAsync_ConcurrentDecisionsAndRefunds_CountsStayExact()
    {
        var partition = NewPartition();
        RateLimitWindow[] limits = [new(50, TimeSpan.FromSeconds(10)), new(200, Window)];

        // 400 callers at once; the even ones take their admission back, which makes room for others.
        var outcomes = await Task.WhenAll(Enumerable.Range(0, 400).Select(i => Task.Run(async () =>
        {
            var decision = await DecideAsync(partition, limits);
            if (decision.IsAllowed && i % 2 == 0)
            {
                await RefundAsync(partition, limits, 1, decision);
                return 0;
            }

            return decision.IsAllowed ? 1 : 0;
        })));
        var peek = await DecideAsync(partition, limits, cost: 0);

        Assert.InRange(outcomes.Sum(), 1, 50);
        Assert.Equal(50 - outcomes.Sum(), peek.Remaining);
    }

    private async Task<int> AdmitConcurrentlyAsync(string partition, RateLimitWindow[] limits, int callers)
    {
        var admitted = await Task.WhenAll(Enumerable.Range(0, callers).Select(_ => Task.Run(async () => await DecideAsync(partition, limits))));
        return admitted.Count(decision => decision.IsAllowed);
    }
}
