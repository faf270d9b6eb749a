using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Primitives;
using RateLimiting.AspNetCore;
using RateLimiting.Limiter;
using RateLimiting.Policies;
using RateLimiting.Store;
using RateLimiting.Tests.Limiter;

namespace RateLimiting.Tests.AspNetCore;

/// <summary>The policy and its limiter as ASP.NET Core's middleware drives them, one request at a time.</summary>
public sealed class PolicyRateLimiterTests : IDisposable
{
    private readonly ScriptedStore _store = new();
    private readonly InMemoryRateLimitStore _fallback = new();
    private readonly DefaultHttpContext _context = new();
    private readonly FixedHttpContextAccessor _accessor = new();
    private readonly List<IDisposable> _disposables = [];
    private RateLimitingOptions _options = WithPolicy(permitLimit: 10);
    private CancellationTokenSource _reload = new();

    public PolicyRateLimiterTests() => _accessor.HttpContext = _context;

    public void Dispose()
    {
        _disposables.ForEach(d => d.Dispose());
        _fallback.Dispose();
        _reload.Dispose();
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

    private SlidingWindowRateLimiterPolicy NewPolicy()
    {
        var registry = new PolicyRegistry(() => _options, [() => new CancellationChangeToken(_reload.Token)], NullLogger<PolicyRegistry>.Instance);
        _disposables.Add(registry);
        var deciders = new PolicyDeciders(_store, _fallback, overLimitCache: false, metrics: null, NullLoggerFactory.Instance);
        return new SlidingWindowRateLimiterPolicy("p", deciders, registry, _accessor);
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
