using System.Threading.RateLimiting;
using RateLimiting.Store;

namespace RateLimiting.Limiter;

/// <summary>Metadata names carried by the leases of sliding-window policies, beside <see cref="MetadataName.RetryAfter"/>.</summary>
public static class RateLimitMetadata
{
    /// <summary>The decision behind the lease: limit, remaining, retry and reset times.</summary>
    public static MetadataName<RateLimitDecision> Decision { get; } = MetadataName.Create<RateLimitDecision>("RATE_LIMIT_DECISION");

    /// <summary>Who decided: the store, or the policy's failure mode.</summary>
    public static MetadataName<RateLimitDecisionSource> Source { get; } = MetadataName.Create<RateLimitDecisionSource>("RATE_LIMIT_DECISION_SOURCE");

    /// <summary>The name of the policy that decided.</summary>
    public static MetadataName<string> PolicyName { get; } = MetadataName.Create<string>("RATE_LIMIT_POLICY");
}
