using System.Diagnostics.Metrics;
using System.Threading.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using RateLimiting.Limiter;
using RateLimiting.Policies;
using RateLimiting.Store;
using RateLimiting.Telemetry;
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

    [Theory]
    [InlineData(1, "charged", 2)]
    [InlineData(2, "lost", 2)]
    [InlineData(0, "charged", 1)]
    public async Task ChargeAsync_StoreFailsSomeTimes_TriedOnceMoreThenCountedAsLost(int failures, string result, int calls)
    {
        _options.CountWhen = new RateLimitCountWhenOptions { StatusCodes = [401] };
        using var services = new ServiceCollection().AddMetrics().BuildServiceProvider();
        var meterFactory = services.GetRequiredService<IMeterFactory>();
        using var charges = new MetricCollector<long>(meterFactory, RateLimitingTelemetry.MeterName, "ratelimiting.charges");
        var decider = new PolicyDecider("p", _store, _fallback, overLimitCache: null, new RateLimitingMetrics(meterFactory), NullLogger.Instance);
        var checkedLease = await decider.DecideAsync(Policy, "a", 1, CancellationToken.None);
        var asked = new List<RateLimitRequest>();
        _store.Answer = request =>
        {
            asked.Add(request);
            return asked.Count <= failures ? throw new TimeoutException("store too slow") : new RateLimitDecision(RateLimitRejectReason.None, 3, 0, TimeSpan.Zero, TimeSpan.Zero, admission: 7);
        };

        await decider.ChargeAsync(checkedLease, 5);

        Assert.Equal(RateLimitRequestKind.Check, checkedLease.Request.Kind);
        Assert.Equal(calls, asked.Count);
        Assert.All(asked, request => Assert.Equal((RateLimitRequestKind.Charge, 5, "a"), (request.Kind, request.Cost, request.Partition)));
        Assert.Equal(result, Assert.Single(charges.GetMeasurementSnapshot()).Tags[RateLimitingMetrics.ChargeTag]);
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
            ? new RateLimitDecision(RateLimitRejectReason.None, 3, 0, TimeSpan.Zero, TimeSpan.FromMinutes(1), windowIndex: 0, admission: 5)
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

    [Theory]
    [InlineData(FailureMode.FailOpen)]
    [InlineData(FailureMode.FailClosed)]
    public async Task RefundAsync_FailureModeAnswered_NoStoreCall(FailureMode mode)
    {
        _options.FailureMode = mode;
        _store.Answer = _ => throw new TimeoutException("store too slow");
        var decider = NewDecider();
        var lease = await decider.DecideAsync(Policy, "a", 1, CancellationToken.None);

        await decider.RefundAsync(lease);

        Assert.Empty(_store.Refunds);
    }

    [Fact]
    public async Task RefundAsync_StoreRecordedNothing_NoStoreCall()
    {
        // A shadow policy's rejection is acquired, but the store recorded nothing (admission 0).
        _options.Shadow = true;
        _store.Answer = request => ScriptedStore.Rejected(request, TimeSpan.FromSeconds(30));
        var decider = NewDecider();
        var lease = await decider.DecideAsync(Policy, "a", 1, CancellationToken.None);

        await decider.RefundAsync(lease);

        Assert.True(lease.IsAcquired);
        Assert.Empty(_store.Refunds);
    }

    [Fact]
    public async Task DecideAsync_OverLimitCacheSeveralWindows_CachedRejectionNeverRetriesLaterThanTheStoresAndReportsItsWindow()
    {
        UseTiered();
        var stored = new RateLimitDecision(RateLimitRejectReason.QuotaExceeded, 1000, 0, TimeSpan.FromSeconds(30), TimeSpan.FromSeconds(20), windowIndex: 1);
        _store.Answer = _ => stored;
        var decider = NewDecider(new OverLimitCache());

        var first = await decider.DecideAsync(Policy, "a", 1, CancellationToken.None);
        var cached = await decider.DecideAsync(Policy, "a", 1, CancellationToken.None);

        Assert.Equal(1, _store.Calls);
        Assert.Equal(stored, first.Decision);
        Assert.False(cached.IsAcquired);
        Assert.InRange(cached.Decision.RetryAfter, TimeSpan.FromTicks(1), stored.RetryAfter);
        Assert.Equal((RateLimitRejectReason.QuotaExceeded, 1, 1000, 0), (cached.Decision.Reason, cached.Decision.WindowIndex, cached.Decision.Limit, cached.Decision.Remaining));
        Assert.Equal(0, cached.Decision.Admission);
    }

    public static TheoryData<string> TieredChanges() => new(TieredChange.Keys);

    [Theory]
    [MemberData(nameof(TieredChanges))]
    public async Task DecideAsync_OverLimitCacheSeveralWindowsChanged_AsksTheStore(string change)
    {
        UseTiered();
        _store.Answer = request => new RateLimitDecision(RateLimitRejectReason.QuotaExceeded, request.Limits[^1].PermitLimit, 0, TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(5), windowIndex: request.Limits.Count - 1);
        var decider = NewDecider(new OverLimitCache());
        await decider.DecideAsync(Policy, "a", 1, CancellationToken.None);
        await decider.DecideAsync(Policy, "a", 1, CancellationToken.None);
        var callsWhileCached = _store.Calls;

        TieredChange[change](_options);
        await decider.DecideAsync(Policy, "a", 1, CancellationToken.None);

        Assert.Equal(1, callsWhileCached);
        Assert.Equal(2, _store.Calls);
    }

    [Fact]
    public async Task DecideAsync_OverLimitCacheSeveralWindowsRecompiledUnchanged_StillRejectsWithoutTheStore()
    {
        UseTiered();
        _store.Answer = request => ScriptedStore.Rejected(request, TimeSpan.FromMinutes(5));
        var decider = NewDecider(new OverLimitCache());
        await decider.DecideAsync(Policy, "a", 1, CancellationToken.None);

        // Policy compiles anew, as a reload that changed nothing else does: equal windows, other arrays.
        var lease = await decider.DecideAsync(Policy, "a", 1, CancellationToken.None);

        Assert.False(lease.IsAcquired);
        Assert.Equal(1, _store.Calls);
    }

    /// <summary>Reloads of <see cref="UseTiered"/>'s windows, each of which must drop a cached rejection.</summary>
    private static readonly Dictionary<string, Action<SlidingWindowPolicyOptions>> TieredChange = new()
    {
        ["short-limit"] = options => options.Limits![0].PermitLimit = 20,
        ["long-limit"] = options => options.Limits![1].PermitLimit = 2000,
        ["long-window"] = options => options.Limits![1].Window = TimeSpan.FromHours(2),
        ["window-added"] = options => options.Limits!.Add(new SlidingWindowLimitOptions { PermitLimit = 10_000, Window = TimeSpan.FromDays(1) }),
        ["short-window-removed"] = options => options.Limits!.RemoveAt(0),
        ["one-window-form"] = options =>
        {
            options.Limits = null;
            options.PermitLimit = 1000;
            options.Window = TimeSpan.FromHours(1);
        },
    };

    /// <summary>10 per second and 1,000 per hour instead of the one-window form.</summary>
    private void UseTiered()
    {
        _options.PermitLimit = 0;
        _options.Window = TimeSpan.Zero;
        _options.Limits =
        [
            new SlidingWindowLimitOptions { PermitLimit = 10, Window = TimeSpan.FromSeconds(1) },
            new SlidingWindowLimitOptions { PermitLimit = 1000, Window = TimeSpan.FromHours(1) },
        ];
    }
}
