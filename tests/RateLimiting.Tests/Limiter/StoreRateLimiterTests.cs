using System.Threading.RateLimiting;
using Microsoft.Extensions.Logging.Abstractions;
using RateLimiting.Limiter;
using RateLimiting.Policies;
using RateLimiting.Store;

namespace RateLimiting.Tests.Limiter;

public sealed class StoreRateLimiterTests : IDisposable
{
    private readonly ScriptedStore _store = new();
    private readonly InMemoryRateLimitStore _fallback = new();
    private readonly SlidingWindowPolicyOptions _options = new() { PermitLimit = 10, Window = TimeSpan.FromMinutes(1), PartitionBy = "Global" };

    public void Dispose() => _fallback.Dispose();

    private StoreRateLimiter NewLimiter(int cost = 1, Action<DecisionLease>? onDecided = null)
        => new(new PolicyDecider("p", () => _options, _store, _fallback, null, null, NullLogger.Instance), "partition", cost, onDecided);

    [Fact]
    public void AttemptAcquire_AnyCount_FailsWithoutAskingTheStore()
    {
        using var limiter = NewLimiter();

        using var lease = limiter.AttemptAcquire();

        Assert.False(lease.IsAcquired);
        Assert.Empty(lease.MetadataNames);
        Assert.Equal(0, _store.Calls);
    }

    [Fact]
    public async Task AcquireAsync_Admitted_LeaseCarriesDecisionAndPolicy()
    {
        DecisionLease? seen = null;
        using var observed = NewLimiter(cost: 4, lease => seen = lease);

        using var lease = await observed.AcquireAsync(permitCount: 2);

        Assert.True(lease.IsAcquired);
        Assert.True(lease.TryGetMetadata(RateLimitMetadata.Decision, out var decision));
        Assert.Equal(2, decision.Remaining);
        Assert.True(lease.TryGetMetadata(RateLimitMetadata.PolicyName, out var policy));
        Assert.Equal("p", policy);
        Assert.False(lease.TryGetMetadata(MetadataName.RetryAfter, out _));
        Assert.Same(lease, seen);
    }

    [Fact]
    public async Task AcquireAsync_Rejected_LeaseCarriesRetryAfter()
    {
        _store.Answer = request => ScriptedStore.Rejected(request, TimeSpan.FromSeconds(42));
        using var limiter = NewLimiter();

        using var lease = await limiter.AcquireAsync();

        Assert.False(lease.IsAcquired);
        Assert.True(lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter));
        Assert.Equal(TimeSpan.FromSeconds(42), retryAfter);
    }

    [Fact]
    public async Task Statistics_AfterDecisions_CountLeasesAndLastRemaining()
    {
        using var limiter = NewLimiter();
        await limiter.AcquireAsync();
        _store.Answer = request => ScriptedStore.Rejected(request, TimeSpan.FromSeconds(1));
        await limiter.AcquireAsync();

        var statistics = limiter.GetStatistics();

        Assert.NotNull(statistics);
        Assert.Equal(1, statistics.TotalSuccessfulLeases);
        Assert.Equal(1, statistics.TotalFailedLeases);
        Assert.Equal(0, statistics.CurrentAvailablePermits);
    }

    [Fact]
    public async Task IdleDuration_AfterDecision_IsMeasuredFromTheLastOne()
    {
        using var limiter = NewLimiter();

        await limiter.AcquireAsync();

        Assert.NotNull(limiter.IdleDuration);
        Assert.True(limiter.IdleDuration >= TimeSpan.Zero);
    }
}
