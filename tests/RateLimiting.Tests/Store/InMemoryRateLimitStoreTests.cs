using NodaTime;
using RateLimiting.Store;

namespace RateLimiting.Tests.Store;

public sealed class InMemoryRateLimitStoreTests : RateLimitStoreConformanceTests, IDisposable
{
    private readonly InMemoryRateLimitStore _store;

    public InMemoryRateLimitStoreTests() => _store = new InMemoryRateLimitStore(Clock);

    protected override IRateLimitStore Store => _store;

    public void Dispose() => _store.Dispose();

    // The store compacts a partition's list once at least 64 leading entries have left every window
    // and they are at least half of it; the tests below cross that line and check nothing shifts.

    [Fact]
    public async Task DecideAsync_EveryEntryLeftAfterMoreThanCompaction_StaysExact()
    {
        var partition = NewPartition();
        RateLimitWindow[] limits = [new(100, Window)];
        await AdmitAsync(partition, limits, 100); // t = 0 s
        Clock.Advance(Duration.FromTimeSpan(Window));

        var admitted = await AdmitAsync(partition, limits, 100); // t = 60 s: the first 100 left
        var rejected = await DecideAsync(partition, limits);

        Assert.Equal(100, admitted);
        Assert.Equal(TimeSpan.FromSeconds(60), rejected.RetryAfter);
        Assert.Equal(TimeSpan.FromSeconds(60), rejected.ResetAfter);
    }

    [Fact]
    public async Task RefundAsync_AfterCompaction_TakesBackTheRightEntry()
    {
        var partition = NewPartition();
        RateLimitWindow[] limits = [new(100, Window)];
        await AdmitAsync(partition, limits, 70); // t = 0 s
        Clock.Advance(Duration.FromSeconds(30));
        var later = new List<RateLimitDecision>();
        for (var i = 0; i < 30; i++)
        {
            later.Add(await DecideAsync(partition, limits)); // t = 30 s
        }

        Clock.Advance(Duration.FromSeconds(30));
        var compacting = await DecideAsync(partition, limits, cost: 0); // t = 60 s: the first 70 left
        await RefundAsync(partition, limits, 1, later[^1]);
        await RefundAsync(partition, limits, 1, later[^1]);
        var afterRefund = await DecideAsync(partition, limits, cost: 0);
        var admitted = await AdmitAsync(partition, limits, 100);
        var rejected = await DecideAsync(partition, limits);

        Assert.Equal((70, TimeSpan.FromSeconds(30)), (compacting.Remaining, compacting.ResetAfter));
        Assert.Equal(71, afterRefund.Remaining);
        Assert.Equal(71, admitted);
        Assert.Equal(TimeSpan.FromSeconds(30), rejected.RetryAfter);
    }

    [Fact]
    public async Task DecideAsync_SeveralWindowsAcrossCompaction_EachWindowStaysExact()
    {
        var partition = NewPartition();
        RateLimitWindow[] limits = [new(10, TimeSpan.FromSeconds(1)), new(100, Window)];
        for (var second = 0; second < 7; second++)
        {
            await AdmitAsync(partition, limits, 10); // t = 0 to 6 s: 70 entries
            Clock.Advance(Duration.FromSeconds(1));
        }

        Clock.Advance(Duration.FromSeconds(23));
        await AdmitAsync(partition, limits, 5); // t = 30 s
        Clock.Advance(Duration.FromSeconds(37));

        var shortFills = await AdmitAsync(partition, limits, 20); // t = 67 s: the first 70 left
        var shortRejects = await DecideAsync(partition, limits);
        Clock.Advance(Duration.FromSeconds(1));
        var longOnly = await DecideAsync(partition, [limits[1]], cost: 0); // t = 68 s, as after a reload
        RateLimitWindow[] reloaded = [new(20, TimeSpan.FromSeconds(10)), limits[1]];
        var recounted = await DecideAsync(partition, reloaded, cost: 0);

        Assert.Equal(10, shortFills);
        Assert.Equal((0, 0, TimeSpan.FromSeconds(1)), (shortRejects.WindowIndex, shortRejects.Remaining, shortRejects.RetryAfter));
        Assert.Equal((85, TimeSpan.FromSeconds(22)), (longOnly.Remaining, longOnly.ResetAfter));
        Assert.Equal((0, 10, TimeSpan.FromSeconds(9)), (recounted.WindowIndex, recounted.Remaining, recounted.ResetAfter));
    }

    /// <summary>Asks <paramref name="count"/> times at cost 1; returns how many were admitted.</summary>
    private async Task<int> AdmitAsync(string partition, RateLimitWindow[] limits, int count)
    {
        var admitted = 0;
        for (var i = 0; i < count; i++)
        {
            admitted += (await DecideAsync(partition, limits)).IsAllowed ? 1 : 0;
        }

        return admitted;
    }
}
