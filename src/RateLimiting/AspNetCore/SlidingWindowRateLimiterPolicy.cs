using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using RateLimiting.Limiter;
using RateLimiting.Policies;

namespace RateLimiting.AspNetCore;

/// <summary>
/// The ASP.NET Core face of one named policy: picks the partition and cost of a request, creates
/// the per-partition limiter, and writes headers and rejections.
/// </summary>
internal sealed class SlidingWindowRateLimiterPolicy : IRateLimiterPolicy<PolicyPartitionKey>
{
    /// <summary>Requests without a partition value (and no fallback) share this partition.</summary>
    internal const string NoPartition = "none";

    private readonly PolicyRegistry _registry;
    private readonly IHttpContextAccessor _httpContextAccessor;
    private readonly Func<PolicyPartitionKey, RateLimiter> _createLimiter;
    private readonly Action<DecisionLease> _writeHeaders;
    private readonly string _name;

    public SlidingWindowRateLimiterPolicy(PolicyDecider decider, PolicyRegistry registry, IHttpContextAccessor httpContextAccessor)
    {
        _registry = registry;
        _httpContextAccessor = httpContextAccessor;
        _name = decider.Name;
        _createLimiter = key => new StoreRateLimiter(decider, key.Partition, key.Cost, _writeHeaders);
        _writeHeaders = WriteHeaders;
        var bodies = new RejectionBodies();
        OnRejected = (context, cancellationToken) =>
        {
            RateLimitResponse.WriteRejection(context.HttpContext, context.Lease, _registry.Options.RejectionStatusCode, bodies, cancellationToken);
            return ValueTask.CompletedTask;
        };
    }

    public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected { get; }

    /// <summary>The policy's current settings (reloaded configuration applies to the next request).</summary>
    public CompiledPolicy Current => _registry.Get(_name);

    public RateLimitPartition<PolicyPartitionKey> GetPartition(HttpContext httpContext)
    {
        var policy = Current;
        var partition = policy.Primary.Read(httpContext) ?? policy.Fallback?.Read(httpContext) ?? NoPartition;
        var cost = policy.Options.CostSelector?.Invoke(httpContext)
            ?? httpContext.GetEndpoint()?.Metadata.GetMetadata<IRateLimitCostMetadata>()?.Cost
            ?? 1;
        return RateLimitPartition.Get(new PolicyPartitionKey(partition, Math.Max(1, cost)), _createLimiter);
    }

    private void WriteHeaders(DecisionLease lease)
    {
        if (_httpContextAccessor.HttpContext is { } context)
        {
            RateLimitResponse.WriteHeaders(context.Response, lease, Current);
        }
    }
}
