using System.Threading.RateLimiting;
using Microsoft.Extensions.Logging.Abstractions;
using RateLimiting.Limiter;
using RateLimiting.Policies;
using RateLimiting.Store;
using RateLimiting.Tests.Infrastructure;

namespace RateLimiting.Tests.Limiter;

public sealed class PolicyDeciderTests : IDisposable
{
    private readonly ScriptedStore _store = new();
    private readonly InMemoryRateLimitStore _fallback = new();
    private readonly SlidingWindowPolicyOptions _options = new() { PermitLimit = 3, Window = TimeSpan.FromMinutes(1), PartitionBy = "Global" };

    public void Dispose() => _fallback.Dispose();

    /// <summary>The options as they are now, compiled: a test that changes them decides with the change, as after a reload.</summary>
    private CompiledPolicy Policy => TestPolicies.Compile(_options);

    private PolicyDecider NewDecider(OverLimitCache? cache = null)
        => new("p", _store, _fallback, cache, metrics: null, NullLogger.Instance);

    [Theory]
    [InlineData(FailureMode.FailOpen, true, RateLimitDecisionSource.FailOpen)]
    [InlineData(FailureMode.FailClosed, false, RateLimitDecisionSource.FailClosed)]
    [InlineData(FailureMode.LocalFallback, true, RateLimitDecisionSource.LocalFallback)]
    public async Task DecideAsync_StoreFails_FailureModeAnswers(FailureMode mode, bool acquired, RateLimitDecisionSource source)
    {
        _options.FailureMode = mode;
        _store.Answer = _ => throw new TimeoutException("store too slow");

        var lease = await NewDecider().DecideAsync(Policy, "a", 1, CancellationToken.None);

        Assert.Equal(acquired, lease.IsAcquired);
        Assert.Equal(source, lease.Source);
        Assert.Equal(mode == FailureMode.FailClosed, lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter));
        if (mode == FailureMode.FailClosed)
        {
            Assert.Equal(TimeSpan.FromSeconds(1), retryAfter);
        }
    }

    [Fact]
    public async Task DecideAsync_LocalFallback_EnforcesTheLimitInThisInstance()
    {
        _options.FailureMode = FailureMode.LocalFallback;
        _store.Answer = _ => throw new InvalidOperationException("store down");
        var decider = NewDecider();

        var leases = new List<bool>();
        for (var i = 0; i < 5; i++)
        {
            leases.Add((await decider.DecideAsync(Policy, "a", 1, CancellationToken.None)).IsAcquired);
        }

        Assert.Equal([true, true, true, false, false], leases);
    }

    [Fact]
    public async Task DecideAsync_RequestAborted_ThrowsInsteadOfFailureMode()
    {
        using var aborted = new CancellationTokenSource();
        await aborted.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await NewDecider().DecideAsync(Policy, "a", 1, aborted.Token));
    }

    [Fact]
    public async Task DecideAsync_Shadow_AdmitsWhatTheStoreRejects()
    {
        _options.Shadow = true;
        _store.Answer = request => ScriptedStore.Rejected(request, TimeSpan.FromSeconds(30));

        var lease = await NewDecider(new OverLimitCache()).DecideAsync(Policy, "a", 1, CancellationToken.None);
        await NewDecider().DecideAsync(Policy, "a", 1, CancellationToken.None);

        Assert.True(lease.IsAcquired);
        Assert.False(lease.Decision.IsAllowed);
        Assert.Equal(2, _store.Calls);
    }

    [Fact]
    public async Task DecideAsync_OverLimitCache_RejectsAtLeastAsCostlyRequestsWithoutTheStore()
    {
        _store.Answer = request => ScriptedStore.Rejected(request, TimeSpan.FromMinutes(5));
        var decider = NewDecider(new OverLimitCache());

        var first = await decider.DecideAsync(Policy, "a", 2, CancellationToken.None);
        var sameCost = await decider.DecideAsync(Policy, "a", 2, CancellationToken.None);
        var higherCost = await decider.DecideAsync(Policy, "a", 3, CancellationToken.None);
        var callsWhileCached = _store.Calls;
        await decider.DecideAsync(Policy, "a", 1, CancellationToken.None);
        await decider.DecideAsync(Policy, "b", 2, CancellationToken.None);

        Assert.False(first.IsAcquired);
        Assert.False(sameCost.IsAcquired);
        Assert.False(higherCost.IsAcquired);
        Assert.InRange(sameCost.Decision.RetryAfter, TimeSpan.FromMinutes(4), TimeSpan.FromMinutes(5));
        Assert.Equal(1, callsWhileCached);
        Assert.Equal(3, _store.Calls);
    }

    [Fact]
    public async Task DecideAsync_OverLimitCache_LetsRequestsThroughOnceRetryAfterHasPassed()
    {
        var rejections = 0;
        _store.Answer = request => Interlocked.Increment(ref rejections) == 1
            ? ScriptedStore.Rejected(request, TimeSpan.FromMilliseconds(20))
            : new RateLimitDecision(RateLimitRejectReason.None, request.Limits[0].PermitLimit, 0, TimeSpan.Zero, TimeSpan.Zero);
        var decider = NewDecider(new OverLimitCache());
        await decider.DecideAsync(Policy, "a", 1, CancellationToken.None);

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        DecisionLease lease;
        do
        {
            lease = await decider.DecideAsync(Policy, "a", 1, CancellationToken.None);
            await Task.Yield();
        }
        while (!lease.IsAcquired && DateTime.UtcNow < deadline);

        Assert.True(lease.IsAcquired);
        Assert.Equal(2, _store.Calls);
    }

    [Fact]
    public async Task DecideAsync_OverLimitCacheAndLimitRaised_AsksTheStore()
    {
        _store.Answer = request => request.Limits[0].PermitLimit == 3
            ? ScriptedStore.Rejected(request, TimeSpan.FromMinutes(5))
            : new RateLimitDecision(RateLimitRejectReason.None, request.Limits[0].PermitLimit, 1, TimeSpan.Zero, TimeSpan.Zero);
        var decider = NewDecider(new OverLimitCache());
        await decider.DecideAsync(Policy, "a", 1, CancellationToken.None);

        _options.PermitLimit = 10;
        var lease = await decider.DecideAsync(Policy, "a", 1, CancellationToken.None);

        Assert.True(lease.IsAcquired);
        Assert.Equal(2, _store.Calls);
    }

    [Fact]
    public async Task DecideAsync_CostExceedsLimit_IsNotCachedAndHasNoRetryAfter()
    {
        _store.Answer = request => new RateLimitDecision(RateLimitRejectReason.CostExceedsLimit, request.Limits[0].PermitLimit, 3, TimeSpan.Zero, TimeSpan.Zero);
        var decider = NewDecider(new OverLimitCache());

        var lease = await decider.DecideAsync(Policy, "a", 5, CancellationToken.None);
        await decider.DecideAsync(Policy, "a", 5, CancellationToken.None);

        Assert.False(lease.IsAcquired);
        Assert.False(lease.TryGetMetadata(MetadataName.RetryAfter, out _));
        Assert.Equal(2, _store.Calls);
    }

    [Fact]
    public async Task RefundAsync_PartitionInTheOverLimitCache_NextDecisionAsksTheStore()
    {
        // A chain's later policy rejected a request this one admitted: taking it back makes room
        // before the Retry-After of a rejection cached meanwhile for the same partition.
        var calls = 0;
        _store.Answer = request => ++calls == 1
            ? new RateLimitDecision(RateLimitRejectReason.None, 3, 0, TimeSpan.Zero, TimeSpan.FromMinutes(1), window: 0, admission: 5)
            : ScriptedStore.Rejected(request, TimeSpan.FromMinutes(1));
        var decider = NewDecider(new OverLimitCache());
        var admitted = await decider.DecideAsync(Policy, "a", 1, CancellationToken.None);
        await decider.DecideAsync(Policy, "a", 1, CancellationToken.None);
        await decider.DecideAsync(Policy, "a", 1, CancellationToken.None);
        var callsWhileCached = _store.Calls;

        await decider.RefundAsync(admitted);
        await decider.DecideAsync(Policy, "a", 1, CancellationToken.None);

        Assert.Equal(2, callsWhileCached);
        Assert.Equal(3, _store.Calls);
        Assert.Equal(5, Assert.Single(_store.Refunds).Admission);
    }
}
