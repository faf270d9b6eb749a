using System.Diagnostics.Metrics;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Primitives;
using RateLimiting.AspNetCore;
using RateLimiting.Limiter;
using RateLimiting.Policies;
using RateLimiting.Store;
using RateLimiting.Telemetry;
using RateLimiting.Tests.Limiter;

namespace RateLimiting.Tests.AspNetCore;

/// <summary>The policy and its limiter as ASP.NET Core's middleware drives them, one request at a time.</summary>
public sealed partial class PolicyRateLimiterTests : IDisposable
{
    private readonly ScriptedStore _store = new();
    private readonly InMemoryRateLimitStore _fallback = new();
    private readonly DefaultHttpContext _context = new();
    private readonly FixedHttpContextAccessor _accessor = new();
    private readonly List<IDisposable> _disposables = [];
    private readonly ServiceProvider _services = new ServiceCollection().AddMetrics().BuildServiceProvider();
    private readonly FakeLoggerProvider _logs = new();
    private RateLimitingOptions _options = WithPolicy(permitLimit: 10);
    private CancellationTokenSource _reload = new();

    public PolicyRateLimiterTests() => _accessor.HttpContext = _context;

    private IMeterFactory MeterFactory => _services.GetRequiredService<IMeterFactory>();

    public void Dispose()
    {
        _disposables.ForEach(d => d.Dispose());
        _fallback.Dispose();
        _reload.Dispose();
        _logs.Dispose();
        _services.Dispose();
    }

    [Fact]
    public void AttemptAcquire_AnyCount_FailsWithoutAskingTheStore()
    {
        var limiter = Limiter(NewPolicy());

        using var lease = limiter.AttemptAcquire();

        Assert.False(lease.IsAcquired);
        Assert.Empty(lease.MetadataNames);
        Assert.Equal(0, _store.Calls);
    }

    [Fact]
    public async Task AcquireAsync_Admitted_LeaseCarriesDecisionAndPolicyAndHeadersAreWritten()
    {
        _options.Policies["p"].CostSelector = _ => 4;
        var limiter = Limiter(NewPolicy());

        using var lease = await limiter.AcquireAsync(permitCount: 2);

        Assert.True(lease.IsAcquired);
        Assert.True(lease.TryGetMetadata(RateLimitMetadata.Decision, out var decision));
        Assert.Equal(2, decision.Remaining);
        Assert.True(lease.TryGetMetadata(RateLimitMetadata.PolicyName, out var policy));
        Assert.Equal("p", policy);
        Assert.False(lease.TryGetMetadata(MetadataName.RetryAfter, out _));
        Assert.Equal("\"p\";q=10;w=60", _context.Response.Headers[RateLimitResponse.PolicyHeader].ToString());
        Assert.Equal("\"p\";r=2;t=0", _context.Response.Headers[RateLimitResponse.StateHeader].ToString());
    }

    [Fact]
    public async Task AcquireAsync_Rejected_LeaseCarriesRetryAfter()
    {
        _store.Answer = request => ScriptedStore.Rejected(request, TimeSpan.FromSeconds(42));
        var limiter = Limiter(NewPolicy());

        using var lease = await limiter.AcquireAsync();

        Assert.False(lease.IsAcquired);
        Assert.True(lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter));
        Assert.Equal(TimeSpan.FromSeconds(42), retryAfter);
    }

    [Fact]
    public async Task Request_CustomPartitionAndCost_EachReadOnce()
    {
        var partitionReads = 0;
        var costReads = 0;
        _options.Policies["p"].PartitionBy = "Custom";
        _options.Policies["p"].PartitionKeySelector = _ => $"client{++partitionReads}";
        _options.Policies["p"].CostSelector = _ => ++costReads;
        string? decided = null;
        _store.Answer = request =>
        {
            decided = request.Partition;
            return ScriptedStore.Rejected(request, TimeSpan.FromSeconds(1));
        };

        using var lease = await RequestAsync(NewPolicy());

        Assert.Equal(1, partitionReads);
        Assert.Equal(1, costReads);
        Assert.Equal("CUSTOM:=client1", decided);
    }

    [Fact]
    public async Task Request_ReloadWhileDeciding_HeadersDescribeTheSnapshotThatDecided()
    {
        var policy = NewPolicy();
        int? decidedLimit = null;
        _store.Answer = request =>
        {
            decidedLimit ??= request.Limits[0].PermitLimit;
            Reload(WithPolicy(permitLimit: 7));
            return new RateLimitDecision(RateLimitRejectReason.None, request.Limits[0].PermitLimit, request.Limits[0].PermitLimit - 1, TimeSpan.Zero, TimeSpan.Zero);
        };

        using var lease = await RequestAsync(policy);
        var headers = _context.Response.Headers[RateLimitResponse.PolicyHeader].ToString();
        _context.Response.Headers.Clear();
        using var next = await RequestAsync(policy);

        Assert.Equal(10, decidedLimit);
        Assert.Equal("\"p\";q=10;w=60", headers);
        Assert.Equal("\"p\";q=7;w=60", _context.Response.Headers[RateLimitResponse.PolicyHeader].ToString());
    }

    [Fact]
    public async Task OnRejected_ReloadWhileDeciding_AnswersWithTheSnapshotThatDecided()
    {
        var policy = NewPolicy();
        _store.Answer = request =>
        {
            var reloaded = WithPolicy(permitLimit: 10);
            reloaded.RejectionStatusCode = 430;
            Reload(reloaded);
            return ScriptedStore.Rejected(request, TimeSpan.FromSeconds(3));
        };

        using var lease = await RequestAsync(policy);
        await policy.OnRejected!(new OnRejectedContext { HttpContext = _context, Lease = lease }, CancellationToken.None);

        Assert.False(lease.IsAcquired);
        Assert.Equal(StatusCodes.Status429TooManyRequests, _context.Response.StatusCode);
        Assert.Equal("3", _context.Response.Headers.RetryAfter.ToString());
        Assert.Equal("application/problem+json", _context.Response.ContentType);
    }

    [Fact]
    public async Task AcquireAsync_OutsideARequest_Throws()
    {
        var limiter = Limiter(NewPolicy());
        _accessor.HttpContext = null;

        await Assert.ThrowsAsync<InvalidOperationException>(async () => await limiter.AcquireAsync());
        Assert.Equal(0, _store.Calls);
    }

    [Fact]
    public void IdleDuration_AnyTime_NeverIdleSoNeverRetired()
    {
        var limiter = Limiter(NewPolicy());

        Assert.Null(limiter.IdleDuration);
    }

    [Theory]
    [InlineData(0, "\"tiered-1s\";r=4;t=1")]
    [InlineData(1, "\"tiered-1h\";r=900;t=100")]
    public async Task AcquireAsync_SeveralWindows_PolicyHeaderListsEveryWindowAndStateNamesTheReportedOne(int window, string state)
    {
        _options = WithTiered();
        _store.Answer = request => window == 0
            ? new RateLimitDecision(RateLimitRejectReason.None, 10, 4, TimeSpan.Zero, TimeSpan.FromMilliseconds(200), windowIndex: 0, admission: 1)
            : new RateLimitDecision(RateLimitRejectReason.None, 1000, 900, TimeSpan.Zero, TimeSpan.FromSeconds(100), windowIndex: 1, admission: 1);

        using var lease = await Limiter(NewPolicy("tiered")).AcquireAsync();

        Assert.True(lease.IsAcquired);
        Assert.Equal("\"tiered-1s\";q=10;w=1, \"tiered-1h\";q=1000;w=3600", _context.Response.Headers[RateLimitResponse.PolicyHeader].ToString());
        Assert.Equal(state, _context.Response.Headers[RateLimitResponse.StateHeader].ToString());
    }

    [Fact]
    public async Task AcquireAsync_SeveralWindows_AsksTheStoreForEveryWindowShortestFirst()
    {
        _options = WithTiered();
        RateLimitRequest? asked = null;
        _store.Answer = request =>
        {
            asked = request;
            return ScriptedStore.Rejected(request, TimeSpan.FromSeconds(3));
        };

        using var lease = await Limiter(NewPolicy("tiered")).AcquireAsync();

        Assert.Equal([new RateLimitWindow(10, TimeSpan.FromSeconds(1)), new RateLimitWindow(1000, TimeSpan.FromHours(1))], asked!.Value.Limits);
        Assert.True(lease.TryGetMetadata(MetadataName.RetryAfter, out var retryAfter));
        Assert.Equal(TimeSpan.FromSeconds(3), retryAfter);
    }

    [Fact]
    public async Task AcquireAsync_ChainBothAdmit_HeadersOfEachLinkInOrderAndNoRefund()
    {
        _options = WithChain();
        var asked = new List<string>();
        _store.Answer = request =>
        {
            asked.Add(request.Policy);
            return Admitted(request, remaining: request.Policy == "per-client" ? 7 : 900, admission: 1);
        };

        using var lease = await Limiter(NewPolicy("both")).AcquireAsync();

        Assert.True(lease.IsAcquired);
        Assert.Equal(["per-client", "global"], asked);
        Assert.Equal(["\"per-client\";q=10;w=1", "\"global\";q=1000;w=1"], Values(RateLimitResponse.PolicyHeader));
        Assert.Equal(["\"per-client\";r=7;t=1", "\"global\";r=900;t=1"], Values(RateLimitResponse.StateHeader));
        Assert.Empty(_store.Refunds);
    }

    [Fact]
    public async Task AcquireAsync_ChainSecondRejects_FirstRefundedWithItsRequestAndAdmission()
    {
        _options = WithChain();
        _options.Policies["per-client"].CostSelector = _ => 2;
        var decided = new List<RateLimitRequest>();
        _store.Answer = request =>
        {
            decided.Add(request);
            return request.Policy == "per-client" ? Admitted(request, remaining: 5, admission: 42) : ScriptedStore.Rejected(request, TimeSpan.FromSeconds(4));
        };
        using var refunds = new MetricCollector<long>(MeterFactory, RateLimitingTelemetry.MeterName, "ratelimiting.refunds");
        var policy = NewPolicy("both");

        using var lease = await Limiter(policy).AcquireAsync();
        await policy.OnRejected!(new OnRejectedContext { HttpContext = _context, Lease = lease }, CancellationToken.None);

        Assert.False(lease.IsAcquired);
        Assert.True(lease.TryGetMetadata(RateLimitMetadata.PolicyName, out var rejectedBy));
        Assert.Equal("global", rejectedBy);
        Assert.Equal([(decided[0], 42L)], _store.Refunds);
        Assert.Equal(2, decided[0].Cost);
        // The refunded link shows its cost remaining again; the rejecting link follows it.
        Assert.Equal(["\"per-client\";r=7;t=1", "\"global\";r=0;t=4"], Values(RateLimitResponse.StateHeader));
        Assert.Equal(StatusCodes.Status429TooManyRequests, _context.Response.StatusCode);
        Assert.Equal("4", _context.Response.Headers.RetryAfter.ToString());
        var refund = Assert.Single(refunds.GetMeasurementSnapshot());
        Assert.Equal(1, refund.Value);
        Assert.Equal("per-client", refund.Tags[RateLimitingMetrics.PolicyTag]);
        Assert.Equal(RateLimitingMetrics.Refunds.Refunded, refund.Tags[RateLimitingMetrics.RefundTag]);
    }

    [Fact]
    public async Task AcquireAsync_ChainFirstRejects_SecondNeverAsked()
    {
        _options = WithChain();
        var asked = new List<string>();
        _store.Answer = request =>
        {
            asked.Add(request.Policy);
            return ScriptedStore.Rejected(request, TimeSpan.FromSeconds(2));
        };

        using var lease = await Limiter(NewPolicy("both")).AcquireAsync();

        Assert.False(lease.IsAcquired);
        Assert.True(lease.TryGetMetadata(RateLimitMetadata.PolicyName, out var rejectedBy));
        Assert.Equal("per-client", rejectedBy);
        Assert.Equal(["per-client"], asked);
        Assert.Empty(_store.Refunds);
        Assert.Equal(["\"per-client\";r=0;t=2"], Values(RateLimitResponse.StateHeader));
    }

    [Fact]
    public async Task AcquireAsync_ChainRefundFails_CountedAsLostAndTheRejectionStillAnswered()
    {
        _options = WithChain();
        AnswerLinks(Admits(remaining: 5, admission: 42), Rejects(retryAfterSeconds: 4));
        _store.RefundFailure = new TimeoutException("store too slow");
        using var refunds = new MetricCollector<long>(MeterFactory, RateLimitingTelemetry.MeterName, "ratelimiting.refunds");
        var policy = NewPolicy("both");

        using var lease = await Limiter(policy).AcquireAsync();
        await policy.OnRejected!(new OnRejectedContext { HttpContext = _context, Lease = lease }, CancellationToken.None);

        Assert.False(lease.IsAcquired);
        Assert.Equal(StatusCodes.Status429TooManyRequests, _context.Response.StatusCode);
        Assert.Equal("4", _context.Response.Headers.RetryAfter.ToString());
        var refund = Assert.Single(refunds.GetMeasurementSnapshot());
        Assert.Equal(("per-client", RateLimitingMetrics.Refunds.Lost), (refund.Tags[RateLimitingMetrics.PolicyTag], refund.Tags[RateLimitingMetrics.RefundTag]));
        var log = Assert.Single(_logs.Collector.GetSnapshot(), record => record.Id.Name == "RefundLost");
        Assert.Equal(LogLevel.Warning, log.Level);
        Assert.IsType<TimeoutException>(log.Exception);
    }

    [Fact]
    public async Task AcquireAsync_ChainFailOpenLinkAdmitted_NoRefundCall()
    {
        _options = WithChain();
        AnswerLinks(_ => throw new TimeoutException("store too slow"), Rejects(retryAfterSeconds: 4));
        using var refunds = new MetricCollector<long>(MeterFactory, RateLimitingTelemetry.MeterName, "ratelimiting.refunds");

        using var lease = await Limiter(NewPolicy("both")).AcquireAsync();

        Assert.False(lease.IsAcquired);
        Assert.Empty(_store.Refunds);
        Assert.Empty(refunds.GetMeasurementSnapshot());
        // Fail-open knows no real numbers: only the rejecting link's headers.
        Assert.Equal(["\"global\";r=0;t=4"], Values(RateLimitResponse.StateHeader));
    }

    [Fact]
    public async Task AcquireAsync_ChainLocalFallbackLinkAdmitted_RefundedInTheFallbackStore()
    {
        _options = WithChain();
        _options.Policies["per-client"].FailureMode = FailureMode.LocalFallback;
        AnswerLinks(_ => throw new TimeoutException("store too slow"), Rejects(retryAfterSeconds: 4));

        using var lease = await Limiter(NewPolicy("both")).AcquireAsync();
        var peek = await _fallback.DecideAsync(new RateLimitRequest("per-client", PolicyRateLimiter.NoPartition, 10, TimeSpan.FromSeconds(1), cost: 0), CancellationToken.None);

        Assert.False(lease.IsAcquired);
        Assert.Empty(_store.Refunds);
        Assert.Equal(10, peek.Remaining);
    }

    [Fact]
    public async Task AcquireAsync_ChainShadowLinkRejects_NextLinkDecidesAndShadowShowsNothing()
    {
        _options = WithChain();
        _options.Policies["per-client"].Shadow = true;
        AnswerLinks(Rejects(retryAfterSeconds: 4), Admits(remaining: 900, admission: 7));

        using var lease = await Limiter(NewPolicy("both")).AcquireAsync();

        Assert.True(lease.IsAcquired);
        Assert.Equal(2, _store.Calls);
        Assert.Equal(["\"global\";r=900;t=1"], Values(RateLimitResponse.StateHeader));
    }

    [Fact]
    public async Task AcquireAsync_ChainShadowLinkAdmittedThenNextRejects_ShadowAdmissionRefundedToo()
    {
        // A shadow policy counts what it would count if it enforced: the request was rejected.
        _options = WithChain();
        _options.Policies["per-client"].Shadow = true;
        AnswerLinks(Admits(remaining: 5, admission: 42), Rejects(retryAfterSeconds: 4));

        using var lease = await Limiter(NewPolicy("both")).AcquireAsync();

        Assert.False(lease.IsAcquired);
        Assert.Equal(42, Assert.Single(_store.Refunds).Admission);
        Assert.Equal(["\"global\";r=0;t=4"], Values(RateLimitResponse.StateHeader));
    }

    [Fact]
    public async Task AcquireAsync_ChainShadowLastLinkRejects_AdmittedWithoutRefund()
    {
        _options = WithChain();
        _options.Policies["global"].Shadow = true;
        AnswerLinks(Admits(remaining: 5, admission: 42), Rejects(retryAfterSeconds: 4));

        using var lease = await Limiter(NewPolicy("both")).AcquireAsync();

        Assert.True(lease.IsAcquired);
        Assert.Empty(_store.Refunds);
        Assert.Equal(["\"per-client\";r=5;t=1"], Values(RateLimitResponse.StateHeader));
    }

    [Fact]
    public async Task Request_ChainReloadBetweenLinks_EveryLinkDecidedAndAnsweredWithOneSnapshot()
    {
        _options = WithChain();
        var decidedLimits = new List<int>();
        _store.Answer = request =>
        {
            decidedLimits.Add(request.Limits[0].PermitLimit);
            var reloaded = WithChain();
            reloaded.Policies["per-client"].PermitLimit = 20;
            reloaded.Policies["global"].PermitLimit = 2000;
            Reload(reloaded);
            return request.Policy == "per-client" ? Admitted(request, remaining: 5, admission: 42) : ScriptedStore.Rejected(request, TimeSpan.FromSeconds(4));
        };

        using var lease = await RequestAsync(NewPolicy("both"));

        Assert.Equal([10, 1000], decidedLimits);
        Assert.Equal(10, Assert.Single(_store.Refunds).Request.Limits[0].PermitLimit);
        Assert.Equal(["\"per-client\";q=10;w=1", "\"global\";q=1000;w=1"], Values(RateLimitResponse.PolicyHeader));
    }

    /// <summary>The header's values, one per policy that wrote it.</summary>
    private string[] Values(string header) => [.. _context.Response.Headers[header].Select(value => value ?? string.Empty)];

    /// <summary>Answers <c>per-client</c>'s requests with <paramref name="perClient"/> and <c>global</c>'s with <paramref name="global"/>.</summary>
    private void AnswerLinks(Func<RateLimitRequest, RateLimitDecision> perClient, Func<RateLimitRequest, RateLimitDecision> global)
        => _store.Answer = request => request.Policy == "per-client" ? perClient(request) : global(request);

    private static Func<RateLimitRequest, RateLimitDecision> Admits(int remaining, long admission)
        => request => Admitted(request, remaining, admission);

    private static Func<RateLimitRequest, RateLimitDecision> Rejects(int retryAfterSeconds)
        => request => ScriptedStore.Rejected(request, TimeSpan.FromSeconds(retryAfterSeconds));

    private static RateLimitDecision Admitted(RateLimitRequest request, int remaining, long admission)
        => new(RateLimitRejectReason.None, request.Limits[0].PermitLimit, remaining, TimeSpan.Zero, TimeSpan.FromSeconds(1), windowIndex: 0, admission);

    /// <summary>Policy <c>tiered</c>: 10 per second and 1,000 per hour, given longest first.</summary>
    private static RateLimitingOptions WithTiered()
    {
        var options = new RateLimitingOptions();
        options.Policies["tiered"] = new SlidingWindowPolicyOptions
        {
            PartitionBy = "Global",
            Limits =
            [
                new SlidingWindowLimitOptions { PermitLimit = 1000, Window = TimeSpan.FromHours(1) },
                new SlidingWindowLimitOptions { PermitLimit = 10, Window = TimeSpan.FromSeconds(1) },
            ],
        };
        return options;
    }

    /// <summary>The chain <c>both</c>: policy <c>per-client</c> (10 per second), then <c>global</c> (1,000 per second).</summary>
    private static RateLimitingOptions WithChain()
    {
        var options = new RateLimitingOptions();
        options.Policies["per-client"] = new SlidingWindowPolicyOptions { PermitLimit = 10, Window = TimeSpan.FromSeconds(1), PartitionBy = "Global" };
        options.Policies["global"] = new SlidingWindowPolicyOptions { PermitLimit = 1000, Window = TimeSpan.FromSeconds(1), PartitionBy = "Global" };
        options.Policies["both"] = new SlidingWindowPolicyOptions { Chain = ["per-client", "global"] };
        return options;
    }

    private static RateLimitingOptions WithPolicy(int permitLimit)
    {
        var options = new RateLimitingOptions();
        options.Policies["p"] = new SlidingWindowPolicyOptions { PermitLimit = permitLimit, Window = TimeSpan.FromMinutes(1), PartitionBy = "Global" };
        return options;
    }

    private static RateLimiter Limiter(SlidingWindowRateLimiterPolicy policy)
    {
        var partition = policy.GetPartition(new DefaultHttpContext());
        return partition.Factory(partition.PartitionKey);
    }

    /// <summary>What the middleware does for one request: the partition and AttemptAcquire, then the partition again and AcquireAsync.</summary>
    private async Task<RateLimitLease> RequestAsync(SlidingWindowRateLimiterPolicy policy)
    {
        using (var attempt = Limiter(policy).AttemptAcquire())
        {
            Assert.False(attempt.IsAcquired);
        }

        return await Limiter(policy).AcquireAsync();
    }

    private SlidingWindowRateLimiterPolicy NewPolicy(string name = "p")
    {
        var registry = new PolicyRegistry(() => _options, [() => new CancellationChangeToken(_reload.Token)], NullLogger<PolicyRegistry>.Instance);
        _disposables.Add(registry);
        var loggerFactory = new LoggerFactory([_logs]);
        _disposables.Add(loggerFactory);
        var deciders = new PolicyDeciders(_store, _fallback, overLimitCache: false, new RateLimitingMetrics(MeterFactory), loggerFactory);
        return new SlidingWindowRateLimiterPolicy(name, deciders, registry, _accessor);
    }

    private void Reload(RateLimitingOptions options)
    {
        _options = options;
        var fired = _reload;
        _reload = new CancellationTokenSource();
        fired.Cancel();
    }

    private sealed class FixedHttpContextAccessor : IHttpContextAccessor
    {
        public HttpContext? HttpContext { get; set; }
    }
}
