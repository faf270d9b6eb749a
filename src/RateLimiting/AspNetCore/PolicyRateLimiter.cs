using System.Runtime.CompilerServices;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using RateLimiting.Limiter;
using RateLimiting.Policies;

namespace RateLimiting.AspNetCore;

/// <summary>
/// The <see cref="RateLimiter"/> of one policy or chain, which ASP.NET Core's middleware calls for
/// every request to its endpoints. When it decides, it reads the registry's snapshot once, reads
/// each policy's partition and cost from it, asks the deciders and writes the headers, so that a
/// request is decided and answered with one configuration; the lease then carries it to the
/// rejection. All quota state lives in the store, so the limiter itself has none.
/// </summary>
internal sealed class PolicyRateLimiter : RateLimiter
{
    /// <summary>Requests without a partition value (and no fallback) share this partition.</summary>
    internal const string NoPartition = "none";

    private readonly string _name;
    private readonly PolicyDeciders _deciders;
    private readonly PolicyRegistry _registry;

    // Why the accessor: the middleware keeps one limiter per partition key (here, the policy) and
    // shares it between concurrent requests, and RateLimiter.AcquireAsync is given a permit count,
    // not the request. The ambient HttpContext, which flows from the middleware's call into
    // AcquireAsync, is the only way from a decision to the request it partitions and answers.
    private readonly IHttpContextAccessor _httpContextAccessor;

    public PolicyRateLimiter(string name, PolicyDeciders deciders, PolicyRegistry registry, IHttpContextAccessor httpContextAccessor)
    {
        _name = name;
        _deciders = deciders;
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
            ?? throw new InvalidOperationException($"Rate-limit policy '{_name}' decides for HTTP requests: ASP.NET Core's rate-limiting middleware calls it within one.");

        // The request's one read of the registry: a reload after this line applies to the next request.
        var snapshot = _registry.Current;
        if (snapshot.Chains.TryGetValue(_name, out var chain))
        {
            return await ChainedAsync(context, snapshot, chain, permitCount, cancellationToken).ConfigureAwait(false);
        }

        var lease = await DecideAsync(context, snapshot.Policies[_name], permitCount, cancellationToken).ConfigureAwait(false);
        RateLimitResponse.WriteHeaders(context.Response, lease, refunded: false);
        if (ResponseCharges.Chargeable(lease))
        {
            ResponseCharges.Admitted(context, _deciders, [lease]);
        }

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

    private ValueTask<DecisionLease> DecideAsync(HttpContext context, CompiledPolicy policy, int permitCount, CancellationToken cancellationToken)
    {
        var decider = _deciders.Get(policy.Name);
        var cost = checked(permitCount * Cost(policy, context));
        var (index, action, applied) = policy.Resolve(context);
        if (action != OverrideAction.Limits)
        {
            return ValueTask.FromResult(decider.Overridden(applied, action, index, cost));
        }

        var partition = applied.Primary.Read(context) ?? applied.Fallback?.Read(context) ?? NoPartition;
        return decider.DecideAsync(applied, partition, cost, cancellationToken);
    }

    private async ValueTask RefundAsync(ReadOnlyMemory<DecisionLease> admitted)
    {
        for (var i = 0; i < admitted.Length; i++)
        {
            var lease = admitted.Span[i];
            await _deciders.Get(lease.Policy.Name).RefundAsync(lease).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Each linked policy in order, until one rejects; its rejection takes back what the earlier
    /// ones recorded for this request, so that a request refused by a global cap costs the client
    /// nothing. The policies live on different slots, so this is not one atomic operation: each
    /// policy alone never over-admits, and a refund is lost only if the store fails in between.
    /// </summary>
    private async ValueTask<RateLimitLease> ChainedAsync(HttpContext context, PolicyRegistry.Snapshot snapshot, CompiledChain chain, int permitCount, CancellationToken cancellationToken)
    {
        var admitted = new DecisionLease[chain.Links.Length];
        for (var i = 0; i < chain.Links.Length; i++)
        {
            DecisionLease lease;
            try
            {
                lease = await DecideAsync(context, snapshot.Policies[chain.Links[i]], permitCount, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                // The client went away: it is not served, so it keeps nothing.
                await RefundAsync(admitted.AsMemory(0, i)).ConfigureAwait(false);
                throw;
            }

            if (!lease.IsAcquired)
            {
                await RefundAsync(admitted.AsMemory(0, i)).ConfigureAwait(false);
                for (var j = 0; j < i; j++)
                {
                    RateLimitResponse.WriteHeaders(context.Response, admitted[j], refunded: true);
                }

                RateLimitResponse.WriteHeaders(context.Response, lease, refunded: false);
                return lease;
            }

            admitted[i] = lease;
        }

        foreach (var lease in admitted)
        {
            RateLimitResponse.WriteHeaders(context.Response, lease, refunded: false);
        }

        DecisionLease[] chargeable = [.. admitted.Where(ResponseCharges.Chargeable)];
        if (chargeable.Length > 0)
        {
            ResponseCharges.Admitted(context, _deciders, chargeable);
        }

        return admitted[^1];
    }
}
