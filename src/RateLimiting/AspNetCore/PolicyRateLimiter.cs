using System.Runtime.CompilerServices;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using RateLimiting.Limiter;
using RateLimiting.Policies;

namespace RateLimiting.AspNetCore;

/// <summary>
/// The <see cref="RateLimiter"/> of one policy, which ASP.NET Core's middleware calls for every request
/// to the policy's endpoints. When it decides, it resolves the request's policy snapshot, reads the
/// partition and the cost from it, asks the decider and writes the headers: each once per request,
/// and all from the one snapshot, which the lease then carries to the rejection. All quota state
/// lives in the store, so the limiter itself has none.
/// </summary>
internal sealed class PolicyRateLimiter : RateLimiter
{
    /// <summary>Requests without a partition value (and no fallback) share this partition.</summary>
    internal const string NoPartition = "none";

    private readonly PolicyDecider _decider;
    private readonly PolicyRegistry _registry;

    // Why the accessor: the middleware keeps one limiter per partition key (here, the policy) and
    // shares it between concurrent requests, and RateLimiter.AcquireAsync is given a permit count,
    // not the request. The ambient HttpContext, which flows from the middleware's call into
    // AcquireAsync, is the only way from a decision to the request it partitions and answers.
    private readonly IHttpContextAccessor _httpContextAccessor;

    public PolicyRateLimiter(PolicyDecider decider, PolicyRegistry registry, IHttpContextAccessor httpContextAccessor)
    {
        _decider = decider;
        _registry = registry;
        _httpContextAccessor = httpContextAccessor;
    }

    /// <summary>Never idle: one limiter per policy, so the middleware need not retire and recreate it.</summary>
    public override TimeSpan? IdleDuration => null;

    /// <summary>
    /// None: a limiter shared by every partition knows no partition's permits (the store does, and
    /// each response's headers say them), and the decisions are counted by the metrics.
    /// </summary>
    public override RateLimiterStatistics? GetStatistics() => null;

    protected override RateLimitLease AttemptAcquireCore(int permitCount) => UndecidedLease.Instance;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    protected override async ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken)
    {
        var context = _httpContextAccessor.HttpContext
            ?? throw new InvalidOperationException($"Rate-limit policy '{_decider.Name}' decides for HTTP requests: ASP.NET Core's rate-limiting middleware calls it within one.");

        // The request's one read of the registry: a reload after this line applies to the next request.
        var policy = _registry.Get(_decider.Name);
        var partition = policy.Primary.Read(context) ?? policy.Fallback?.Read(context) ?? NoPartition;
        var lease = await _decider.DecideAsync(policy, partition, checked(permitCount * Cost(policy, context)), cancellationToken).ConfigureAwait(false);
        RateLimitResponse.WriteHeaders(context.Response, lease);
        return lease;
    }

    /// <summary>The permits one request consumes: the policy's selector, else the endpoint's metadata, else 1.</summary>
    private static int Cost(CompiledPolicy policy, HttpContext context)
    {
        var cost = policy.Options.CostSelector?.Invoke(context)
            ?? context.GetEndpoint()?.Metadata.GetMetadata<IRateLimitCostMetadata>()?.Cost
            ?? 1;
        return Math.Max(1, cost);
    }
}
