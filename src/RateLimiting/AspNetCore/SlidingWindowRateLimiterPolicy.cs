using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.RateLimiting;
using RateLimiting.Limiter;
using RateLimiting.Policies;

namespace RateLimiting.AspNetCore;

/// <summary>
/// The ASP.NET Core face of one named policy or chain: gives the middleware its limiter, which
/// decides and writes the headers, and writes the rejections of its leases.
/// </summary>
/// <remarks>
/// The partition key is the policy, not the request's partition, and <see cref="GetPartition"/>
/// does not read the request. The middleware calls <c>GetPartition</c> twice per request: once for
/// <c>AttemptAcquire</c>, which cannot decide without the store's I/O and so must fail, and again
/// for <c>AcquireAsync</c>. Reading the request here would compute the partition twice, possibly
/// from two snapshots if a reload fell between; and remembering the first read on the
/// <c>HttpContext</c> would be unsound, because a re-executed pipeline (<c>UseExceptionHandler</c>,
/// <c>UseStatusCodePagesWithReExecute</c>) reuses the context with another path and route values,
/// and nothing tells one pass's two calls from the next pass's. So the limiter reads the request
/// once, in <c>AcquireAsync</c>, when it decides.
/// </remarks>
internal sealed class SlidingWindowRateLimiterPolicy : IRateLimiterPolicy<string>
{
    private readonly RateLimitPartition<string> _partition;

    public SlidingWindowRateLimiterPolicy(string name, PolicyDeciders deciders, PolicyRegistry registry, IHttpContextAccessor httpContextAccessor)
    {
        // The middleware calls the factory again only if it retired the limiter, which never reports idle.
        _partition = RateLimitPartition.Get(name, _ => new PolicyRateLimiter(name, deciders, registry, httpContextAccessor));
        var bodies = new RejectionBodies();
        OnRejected = (context, cancellationToken) =>
        {
            // Every lease rejected by this policy comes from its limiter (for a chain, the rejecting
            // policy's lease, which names that policy); were another one to arrive,
            // the middleware's own status code would stand.
            if (context.Lease is DecisionLease lease)
            {
                RateLimitResponse.WriteRejection(context.HttpContext, lease, bodies, cancellationToken);
            }

            return ValueTask.CompletedTask;
        };
    }

    public Func<OnRejectedContext, CancellationToken, ValueTask>? OnRejected { get; }

    public RateLimitPartition<string> GetPartition(HttpContext httpContext) => _partition;
}
