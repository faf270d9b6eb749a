using NodaTime;
using NodaTime.Testing;
using RateLimiting.Redis.Store;
using RateLimiting.Redis.Tests.Infrastructure;
using RateLimiting.Store;
using StackExchange.Redis;

namespace RateLimiting.Redis.Tests.Store;

[Collection(RedisClusterCollection.Name)]
public sealed class RedisRateLimitStoreTests : IAsyncLifetime
{
    private const string Policy = "store-tests";
    private static readonly TimeSpan Generous = TimeSpan.FromSeconds(10);

    /// <summary>The keys of the stores below: they use the default prefix.</summary>
    private static readonly RedisKeyLayout Keys = new("rl");

    private readonly RedisClusterFixture _cluster;
    private readonly List<RedisRateLimitStore> _stores = [];

    public RedisRateLimitStoreTests(RedisClusterFixture cluster) => _cluster = cluster;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync()
    {
        foreach (var store in _stores)
        {
            await store.DisposeAsync();
        }
    }

    /// <summary>A store with its own multiplexer, as a separate application instance would have.</summary>
    private RedisRateLimitStore NewInstance(FakeClock? clock = null)
    {
        var store = new RedisRateLimitStore(new RedisStoreOptions
        {
            Configuration = _cluster.ConfigurationString,
            Clock = clock,
            OperationTimeout = Generous,
        });
        _stores.Add(store);
        return store;
    }

    private IDatabase Database => _cluster.Multiplexer.GetDatabase();

    private static FakeClock FixedClock() => new(NodaTime.Instant.FromUtc(2026, 1, 1, 0, 0));

    private static RateLimitRequest Request(string partition, int limit, TimeSpan window, int cost = 1)
        => new(Policy, partition, limit, window, cost);

    [Fact]
    public async Task DecideAsync_ThreeInstancesTimesSixtyFourCallersOverSeveralWindows_AdmitExactlyTheLimitPerWindow()
    {
        const int Limit = 100;
        var window = TimeSpan.FromMinutes(1);
        var clock = new FakeClock(SystemClock.Instance.GetCurrentInstant());
        var instances = new[] { NewInstance(clock), NewInstance(clock), NewInstance(clock) };
        var partition = "exact-" + Guid.NewGuid().ToString("N");
        var admittedPerWindow = new List<int>();

        for (var round = 0; round < 4; round++)
        {
            var callers = Enumerable.Range(0, instances.Length * 64).Select(async caller =>
            {
                var store = instances[caller % instances.Length];
                var admitted = 0;
                for (var attempt = 0; attempt < 3; attempt++)
                {
                    if ((await store.DecideAsync(Request(partition, Limit, window), CancellationToken.None)).IsAllowed)
                    {
                        admitted++;
                    }
                }

                return admitted;
            });
            admittedPerWindow.Add((await Task.WhenAll(callers)).Sum());
            clock.Advance(Duration.FromTimeSpan(window));
        }

        Assert.Equal([Limit, Limit, Limit, Limit], admittedPerWindow);
    }

    [Fact]
    public async Task DecideAsync_ConcurrentMixedCosts_AdmitExactlyTheLimitInCost()
    {
        const int Limit = 1000;
        var window = TimeSpan.FromMinutes(1);
        var clock = new FakeClock(SystemClock.Instance.GetCurrentInstant());
        var instances = new[] { NewInstance(clock), NewInstance(clock), NewInstance(clock) };
        var partition = "mixed-" + Guid.NewGuid().ToString("N");
        var admittedPerWindow = new List<int>();

        for (var round = 0; round < 3; round++)
        {
            var callers = Enumerable.Range(0, instances.Length * 64).Select(async caller =>
            {
                var store = instances[caller % instances.Length];
                var admittedCost = 0;

                // Costs 1..9, ending with cost 1 so that the window fills to the last unit.
                foreach (var cost in new[] { 1 + (caller % 9), 1 + ((caller * 7) % 9), 5, 3, 1, 1 })
                {
                    if ((await store.DecideAsync(Request(partition, Limit, window, cost), CancellationToken.None)).IsAllowed)
                    {
                        admittedCost += cost;
                    }
                }

                return admittedCost;
            });
            admittedPerWindow.Add((await Task.WhenAll(callers)).Sum());
            var state = await instances[0].DecideAsync(Request(partition, Limit, window, cost: 0), CancellationToken.None);
            Assert.Equal(0, state.Remaining);
            clock.Advance(Duration.FromTimeSpan(window));
        }

        Assert.Equal([Limit, Limit, Limit], admittedPerWindow);
    }

    [Fact]
    public async Task DecideAsync_ServerTimeConcurrentBurst_AdmitsExactlyTheLimit()
    {
        const int Limit = 250;
        var instances = new[] { NewInstance(), NewInstance(), NewInstance() };
        var partition = "burst-" + Guid.NewGuid().ToString("N");

        var callers = Enumerable.Range(0, instances.Length * 64).Select(async caller =>
        {
            var admitted = 0;
            for (var attempt = 0; attempt < 2; attempt++)
            {
                if ((await instances[caller % instances.Length].DecideAsync(Request(partition, Limit, TimeSpan.FromHours(1)), CancellationToken.None)).IsAllowed)
                {
                    admitted++;
                }
            }

            return admitted;
        });

        Assert.Equal(Limit, (await Task.WhenAll(callers)).Sum());
    }

    [Fact]
    public async Task DecideAsync_ManyPartitions_RunOnEveryMasterAndEveryKeyHasATtl()
    {
        var store = NewInstance();
        var multiplexer = _cluster.Multiplexer;
        var servedBy = new HashSet<string>();
        var window = TimeSpan.FromMinutes(5);

        for (var i = 0; i < 60; i++)
        {
            var partition = $"spread-{i}-{Guid.NewGuid():N}";
            var decision = await store.DecideAsync(Request(partition, 10, window), CancellationToken.None);
            Assert.True(decision.IsAllowed);

            var (entries, totals) = Keys.For(Policy, partition);
            foreach (var key in new[] { entries, totals })
            {
                var ttl = await Database.KeyTimeToLiveAsync(key).WaitAsync(Generous);
                Assert.NotNull(ttl);
                // Extended by a quarter window whenever less than a window is left.
                Assert.InRange(ttl.Value, TimeSpan.FromMilliseconds(1), window * 1.25);
            }

            var slot = multiplexer.HashSlot(entries);
            Assert.Equal(slot, multiplexer.HashSlot(totals));
            servedBy.Add(_cluster.OwnerOfSlot(slot));
        }

        Assert.Equal(3, servedBy.Count);
    }

    [Fact]
    public async Task DecideAsync_ScriptCacheFlushedOnEveryMaster_ReloadsAndDecides()
    {
        var store = NewInstance();
        var partitions = Enumerable.Range(0, 30).Select(i => $"noscript-{i}-{Guid.NewGuid():N}").ToArray();
        foreach (var partition in partitions)
        {
            await store.DecideAsync(Request(partition, 5, TimeSpan.FromMinutes(1)), CancellationToken.None);
        }

        foreach (var port in await _cluster.MasterPortsAsync())
        {
            await _cluster.RedisCliAsync(port, "SCRIPT", "FLUSH");
        }

        foreach (var partition in partitions)
        {
            var decision = await store.DecideAsync(Request(partition, 5, TimeSpan.FromMinutes(1)), CancellationToken.None);
            Assert.Equal(3, decision.Remaining);
        }
    }

    [Fact]
    public async Task DecideAsync_ShortWindowOnServerTime_SlidesAndKeysExpire()
    {
        var store = NewInstance();
        var partition = "short-" + Guid.NewGuid().ToString("N");
        var window = TimeSpan.FromMilliseconds(300);
        var request = Request(partition, 2, window);

        Assert.True((await store.DecideAsync(request, CancellationToken.None)).IsAllowed);
        Assert.True((await store.DecideAsync(request, CancellationToken.None)).IsAllowed);
        var rejected = await store.DecideAsync(request, CancellationToken.None);
        Assert.False(rejected.IsAllowed);
        Assert.InRange(rejected.RetryAfter, TimeSpan.FromTicks(1), window);

        // Admitted again once the oldest entry has left; retry no earlier than the store said.
        await Task.Delay(rejected.RetryAfter);
        var admitted = await Poll.UntilAsync(() => store.DecideAsync(request, CancellationToken.None).AsTask(), d => d.IsAllowed, TimeSpan.FromSeconds(5));
        Assert.True(admitted.IsAllowed);

        var (entries, totals) = Keys.For(Policy, partition);
        await Poll.UntilAsync(async () => await Database.KeyExistsAsync(entries).WaitAsync(Generous) || await Database.KeyExistsAsync(totals).WaitAsync(Generous), exists => !exists, TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task DecideAsync_ExpensiveRequest_StoresOneMember()
    {
        var store = NewInstance();
        var partition = "heavy-" + Guid.NewGuid().ToString("N");

        var decision = await store.DecideAsync(Request(partition, 1000, TimeSpan.FromMinutes(1), cost: 500), CancellationToken.None);

        var (entries, _) = Keys.For(Policy, partition);
        Assert.True(decision.IsAllowed);
        Assert.Equal(500, decision.Remaining);
        Assert.Equal(1, await Database.SortedSetLengthAsync(entries).WaitAsync(Generous));
    }

    [Fact]
    public async Task DecideAsync_TotalsLost_RebuildsThemFromTheEntries()
    {
        var store = NewInstance();
        var partition = "rebuild-" + Guid.NewGuid().ToString("N");
        var request = Request(partition, 10, TimeSpan.FromMinutes(1), cost: 3);
        await store.DecideAsync(request, CancellationToken.None);
        await store.DecideAsync(request, CancellationToken.None);
        var (entries, totals) = Keys.For(Policy, partition);
        await Database.KeyDeleteAsync(totals).WaitAsync(Generous);

        var third = await store.DecideAsync(request, CancellationToken.None);
        var fourth = await store.DecideAsync(request, CancellationToken.None);

        Assert.Equal(1, third.Remaining);
        Assert.False(fourth.IsAllowed);
        Assert.Equal(3, await Database.SortedSetLengthAsync(entries).WaitAsync(Generous));
        Assert.NotNull(await Database.KeyTimeToLiveAsync(totals).WaitAsync(Generous));
    }

    [Fact]
    public async Task DecideAsync_TotalsLostWhileEntriesExpired_RebuildFromTheLiveEntriesOnly()
    {
        var clock = FixedClock();
        var store = NewInstance(clock);
        var partition = "rebuild-expired-" + Guid.NewGuid().ToString("N");
        var request = Request(partition, 5, TimeSpan.FromMinutes(1));
        await store.DecideAsync(request, CancellationToken.None);
        await store.DecideAsync(request, CancellationToken.None);
        clock.Advance(Duration.FromSeconds(30));
        await store.DecideAsync(request, CancellationToken.None);
        var (entries, totals) = Keys.For(Policy, partition);
        await Database.KeyDeleteAsync(totals).WaitAsync(Generous);
        clock.Advance(Duration.FromSeconds(35)); // the first two have left the window

        var decision = await store.DecideAsync(request, CancellationToken.None);

        Assert.Equal((true, 3, TimeSpan.FromSeconds(25)), (decision.IsAllowed, decision.Remaining, decision.ResetAfter));
        Assert.Equal(2, await Database.SortedSetLengthAsync(entries).WaitAsync(Generous));
    }

    [Fact]
    public async Task DecideAsync_TotalsWithoutTheOldestEntry_DecideExactly()
    {
        // Totals as the first release wrote them (no "o" field) stay valid after an upgrade.
        var clock = FixedClock();
        var store = NewInstance(clock);
        var partition = "upgrade-" + Guid.NewGuid().ToString("N");
        var request = Request(partition, 3, TimeSpan.FromMinutes(1));
        await store.DecideAsync(request, CancellationToken.None);
        clock.Advance(Duration.FromSeconds(10));
        await store.DecideAsync(request, CancellationToken.None);
        var (_, totals) = Keys.For(Policy, partition);
        await Database.HashDeleteAsync(totals, "o").WaitAsync(Generous);

        var third = await store.DecideAsync(request, CancellationToken.None);
        var fourth = await store.DecideAsync(request, CancellationToken.None);
        clock.Advance(Duration.FromSeconds(50));
        var afterTheFirstLeft = await store.DecideAsync(request, CancellationToken.None);

        Assert.Equal((0, TimeSpan.FromSeconds(50)), (third.Remaining, third.ResetAfter));
        Assert.Equal((false, TimeSpan.FromSeconds(50)), (fourth.IsAllowed, fourth.RetryAfter));
        Assert.Equal((true, TimeSpan.FromSeconds(10)), (afterTheFirstLeft.IsAllowed, afterTheFirstLeft.ResetAfter));
    }

    [Fact]
    public async Task DecideAsync_TwoWindowsThreeInstancesTimesSixtyFourCallersMixedCosts_NeitherWindowIsOverAdmitted()
    {
        // 60 per 10 s and 150 per minute: rounds 10 s apart admit 60, 60, 30, then 0 until the
        // first round leaves the minute, and each round fills its windows to the last unit.
        RateLimitWindow[] limits = [new(60, TimeSpan.FromSeconds(10)), new(150, TimeSpan.FromMinutes(1))];
        var clock = new FakeClock(SystemClock.Instance.GetCurrentInstant());
        var instances = new[] { NewInstance(clock), NewInstance(clock), NewInstance(clock) };
        var partitions = Enumerable.Range(0, 6).Select(i => $"two-windows-{i}-{Guid.NewGuid():N}").ToArray();
        var admittedPerRound = new List<int[]>();

        for (var round = 0; round < 7; round++)
        {
            var admitted = new int[partitions.Length];
            var callers = Enumerable.Range(0, instances.Length * 64).Select(async caller =>
            {
                var store = instances[caller % instances.Length];
                for (var attempt = 0; attempt < 12; attempt++)
                {
                    var partition = (caller + attempt) % partitions.Length;
                    var cost = attempt < 8 ? 1 + ((caller * 7 + attempt) % 4) : 1;
                    if ((await store.DecideAsync(new RateLimitRequest(Policy, partitions[partition], limits, cost), CancellationToken.None)).IsAllowed)
                    {
                        Interlocked.Add(ref admitted[partition], cost);
                    }
                }
            });
            await Task.WhenAll(callers);
            admittedPerRound.Add(admitted);
            clock.Advance(Duration.FromSeconds(10));
        }

        int[] expected = [60, 60, 30, 0, 0, 0, 60];
        Assert.All(Enumerable.Range(0, partitions.Length), partition => Assert.Equal(expected, admittedPerRound.Select(round => round[partition])));
    }

    [Fact]
    public async Task DecideAsync_TwoWindows_OneSortedSetOfTheAdmittedRequestsAndOneHashOfTotals()
    {
        RateLimitWindow[] limits = [new(10, TimeSpan.FromSeconds(1)), new(1000, TimeSpan.FromHours(1))];
        var clock = FixedClock();
        var store = NewInstance(clock);
        var partition = "memory-" + Guid.NewGuid().ToString("N");
        var admitted = 0;
        for (var second = 0; second < 5; second++)
        {
            for (var i = 0; i < 12; i++)
            {
                admitted += (await store.DecideAsync(new RateLimitRequest(Policy, partition, limits, cost: 1), CancellationToken.None)).IsAllowed ? 1 : 0;
            }

            clock.Advance(Duration.FromSeconds(1));
        }

        var (entries, totals) = Keys.For(Policy, partition);
        Assert.Equal(50, admitted);
        Assert.Equal(50, await Database.SortedSetLengthAsync(entries).WaitAsync(Generous));
        Assert.Equal(RedisType.Hash, await Database.KeyTypeAsync(totals).WaitAsync(Generous));
        Assert.Equal(["x"], (await Database.HashKeysAsync(totals).WaitAsync(Generous)).Select(field => (string)field!).Order(StringComparer.Ordinal));
        Assert.InRange((await Database.KeyTimeToLiveAsync(entries).WaitAsync(Generous))!.Value, TimeSpan.FromMinutes(59), TimeSpan.FromHours(1.25));
    }

    [Fact]
    public async Task DecideAsync_TwoWindowsTotalsLost_RebuildsEveryWindowFromTheEntries()
    {
        RateLimitWindow[] limits = [new(3, TimeSpan.FromSeconds(10)), new(5, TimeSpan.FromMinutes(1))];
        var clock = FixedClock();
        var store = NewInstance(clock);
        var partition = "rebuild-windows-" + Guid.NewGuid().ToString("N");
        var request = new RateLimitRequest(Policy, partition, limits, cost: 1);
        await store.DecideAsync(request, CancellationToken.None);
        await store.DecideAsync(request, CancellationToken.None);
        clock.Advance(Duration.FromSeconds(20));
        await store.DecideAsync(request, CancellationToken.None);
        await Database.KeyDeleteAsync(Keys.For(Policy, partition).Totals).WaitAsync(Generous);

        var fourth = await store.DecideAsync(request, CancellationToken.None);
        var fifth = await store.DecideAsync(request, CancellationToken.None);
        var sixth = await store.DecideAsync(request, CancellationToken.None);

        // The short window holds the last three, the minute all five: each has 1 left, then 0, and
        // the longer one is reported on a tie.
        Assert.Equal((true, 1, 1), (fourth.IsAllowed, fourth.WindowIndex, fourth.Remaining));
        Assert.Equal((true, 1, 0), (fifth.IsAllowed, fifth.WindowIndex, fifth.Remaining));
        Assert.Equal((RateLimitRejectReason.QuotaExceeded, TimeSpan.FromSeconds(40)), (sixth.Reason, sixth.RetryAfter));
    }

    [Fact]
    public async Task DecideAsync_WindowsChangedByAReload_CountsFromTheEntriesWithoutOverAdmitting()
    {
        RateLimitWindow[] twoWindows = [new(2, TimeSpan.FromSeconds(10)), new(6, TimeSpan.FromMinutes(1))];
        RateLimitWindow[] oneWindow = [new(6, TimeSpan.FromMinutes(1))];
        var clock = FixedClock();
        var store = NewInstance(clock);
        var partition = "reload-windows-" + Guid.NewGuid().ToString("N");
        async Task<bool> Admitted(RateLimitWindow[] limits) => (await store.DecideAsync(new RateLimitRequest(Policy, partition, limits, cost: 1), CancellationToken.None)).IsAllowed;

        var before = new[] { await Admitted(twoWindows), await Admitted(twoWindows), await Admitted(twoWindows) };
        var underOneWindow = new[] { await Admitted(oneWindow), await Admitted(oneWindow) };
        var backToTwo = await Admitted(twoWindows);
        clock.Advance(Duration.FromSeconds(10));
        var afterTenSeconds = new[] { await Admitted(twoWindows), await Admitted(twoWindows), await Admitted(twoWindows) };

        Assert.Equal([true, true, false], before);
        Assert.Equal([true, true], underOneWindow);
        Assert.False(backToTwo);
        Assert.Equal([true, true, false], afterTenSeconds);
    }

    [Fact]
    public async Task DecideAsync_RejectedUnderTwoWindowsAfterOne_TheOneWindowTotalsThatFollowStayExact()
    {
        // A two-window decision over one-window totals counts afresh from the entries and removes the
        // expired ones: what it saves, even on a rejection, is what one window then reads.
        RateLimitWindow[] oneWindow = [new(6, TimeSpan.FromMinutes(1))];
        RateLimitWindow[] twoWindows = [new(3, TimeSpan.FromSeconds(10)), new(6, TimeSpan.FromMinutes(1))];
        var clock = FixedClock();
        var store = NewInstance(clock);
        var partition = "reload-reject-" + Guid.NewGuid().ToString("N");
        Task<RateLimitDecision> Decide(RateLimitWindow[] limits, int cost) => store.DecideAsync(new RateLimitRequest(Policy, partition, limits, cost), CancellationToken.None).AsTask();

        await Decide(oneWindow, 2);
        clock.Advance(Duration.FromSeconds(30));
        await Decide(oneWindow, 4);
        clock.Advance(Duration.FromSeconds(31));
        var underTwoWindows = await Decide(twoWindows, 3);
        var (_, totals) = Keys.For(Policy, partition);
        var totalsTimeToLive = await Database.KeyTimeToLiveAsync(totals).WaitAsync(Generous);
        var backToOne = await Decide(oneWindow, 2);
        var full = await Decide(oneWindow, 1);

        Assert.Equal((RateLimitRejectReason.QuotaExceeded, 1, 2), (underTwoWindows.Reason, underTwoWindows.WindowIndex, underTwoWindows.Remaining));
        Assert.NotNull(totalsTimeToLive);
        Assert.Equal((true, 0), (backToOne.IsAllowed, backToOne.Remaining));
        Assert.Equal((false, TimeSpan.FromSeconds(29)), (full.IsAllowed, full.RetryAfter));
    }

    [Fact]
    public async Task RefundAsync_TotalsLost_TheNextDecisionRebuildsWithoutTheRefundedEntry()
    {
        var clock = FixedClock();
        var store = NewInstance(clock);
        var partition = "tiered-refund-rebuild-" + Guid.NewGuid().ToString("N");
        var refunded = await store.DecideAsync(Tiered(partition, cost: 2), CancellationToken.None); // t = 0 s
        clock.Advance(Duration.FromSeconds(1));
        await store.DecideAsync(Tiered(partition, cost: 1), CancellationToken.None); // t = 1 s
        var (entries, totals) = Keys.For(Policy, partition);
        await Database.KeyDeleteAsync(totals).WaitAsync(Generous);

        await store.RefundAsync(Tiered(partition, cost: 2), refunded.Admission, CancellationToken.None);
        var admitted = await store.DecideAsync(Tiered(partition, cost: 2), CancellationToken.None);
        var rejected = await store.DecideAsync(Tiered(partition, cost: 1), CancellationToken.None);

        Assert.True(admitted.IsAllowed);
        Assert.Equal((0, TimeSpan.FromSeconds(10)), (rejected.WindowIndex, rejected.RetryAfter));
        Assert.Equal(2, await Database.SortedSetLengthAsync(entries).WaitAsync(Generous));
    }

    [Fact]
    public async Task DecideAsync_ShortWindowOfMoreEntriesThanItsQueue_MovesPastThemExactlyAndRefundsAnyOfThem()
    {
        // 17 entries a millisecond apart fill the short window's queue; 25 at one time after them
        // are counted but not queued, and are queued together once the first 17 have left.
        RateLimitWindow[] limits = [new(50, TimeSpan.FromSeconds(10)), new(200, TimeSpan.FromMinutes(1))];
        var clock = FixedClock();
        var store = NewInstance(clock);
        var partition = "long-queue-" + Guid.NewGuid().ToString("N");
        var request = new RateLimitRequest(Policy, partition, limits, cost: 1);
        long lastAdmission = 0;
        async Task<int> AdmitAll(int attempts)
        {
            var admitted = 0;
            for (var i = 0; i < attempts; i++)
            {
                var decision = await store.DecideAsync(request, CancellationToken.None);
                admitted += decision.IsAllowed ? 1 : 0;
                lastAdmission = decision.IsAllowed ? decision.Admission : lastAdmission;
            }

            return admitted;
        }

        for (var i = 0; i < 17; i++)
        {
            await AdmitAll(1);
            clock.Advance(Duration.FromMilliseconds(1));
        }

        clock.Advance(Duration.FromMilliseconds(1000 - 17)); // t = 1 s
        var atOneSecond = await AdmitAll(25);
        clock.Advance(Duration.FromMilliseconds(9020)); // t = 10.02 s: the first 17 have left
        var afterTheFirstLeft = await AdmitAll(25);
        var rejected = await store.DecideAsync(request, CancellationToken.None);
        await store.RefundAsync(request, lastAdmission, CancellationToken.None); // counted, not queued
        var afterTheRefund = await AdmitAll(2);
        clock.Advance(Duration.FromMilliseconds(980)); // t = 11 s: the 25 of t = 1 s have left
        var afterTheGroupLeft = await AdmitAll(30);

        Assert.Equal(25, atOneSecond);
        Assert.Equal(25, afterTheFirstLeft);
        Assert.Equal((RateLimitRejectReason.QuotaExceeded, 0, TimeSpan.FromMilliseconds(980)), (rejected.Reason, rejected.WindowIndex, rejected.RetryAfter));
        Assert.Equal(1, afterTheRefund);
        Assert.Equal(25, afterTheGroupLeft);
    }

    [Fact]
    public async Task DecideAsync_TwoWindowsClockBehindTheNewestEntry_RecordsAtTheNewestEntrysTime()
    {
        // A failover to a master whose clock is behind: the partition's time does not run back, so
        // the short window's entries leave in the order they came.
        var clock = FixedClock();
        var store = NewInstance(clock);
        var partition = "clock-behind-" + Guid.NewGuid().ToString("N");
        await store.DecideAsync(Tiered(partition, cost: 1), CancellationToken.None); // t = 0
        clock.Advance(Duration.FromSeconds(5));
        await store.DecideAsync(Tiered(partition, cost: 1), CancellationToken.None);
        clock.Advance(Duration.FromSeconds(-1)); // t = 4 s, recorded at 5 s
        var behind = await store.DecideAsync(Tiered(partition, cost: 1), CancellationToken.None);
        clock.Advance(Duration.FromMilliseconds(10_500)); // t = 14.5 s: only the entry of t = 0 has left

        var admitted = await store.DecideAsync(Tiered(partition, cost: 1), CancellationToken.None);
        var rejected = await store.DecideAsync(Tiered(partition, cost: 1), CancellationToken.None);

        Assert.True(behind.IsAllowed);
        Assert.Equal((true, 0, 0), (admitted.IsAllowed, admitted.WindowIndex, admitted.Remaining));
        Assert.Equal((0, TimeSpan.FromMilliseconds(500)), (rejected.WindowIndex, rejected.RetryAfter));
    }

    /// <summary>3 per 10 seconds and 5 per minute.</summary>
    private static RateLimitRequest Tiered(string partition, int cost)
        => new(Policy, partition, [new RateLimitWindow(3, TimeSpan.FromSeconds(10)), new RateLimitWindow(5, TimeSpan.FromMinutes(1))], cost);
}
