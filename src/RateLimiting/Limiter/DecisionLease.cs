using System.Threading.RateLimiting;
using RateLimiting.Store;

namespace RateLimiting.Limiter;

/// <summary>A lease carrying one decision: nothing to release, since windows expire on their own.</summary>
internal sealed class DecisionLease : RateLimitLease
{
    private static readonly string[] AllMetadataNames =
        [MetadataName.RetryAfter.Name, RateLimitMetadata.Decision.Name, RateLimitMetadata.Source.Name, RateLimitMetadata.PolicyName.Name];

    /// <summary>What <c>AttemptAcquire</c> returns: no decision without I/O, so callers go on to <c>AcquireAsync</c>.</summary>
    public static DecisionLease Undecided { get; } = new(isAcquired: false, policy: string.Empty, default, RateLimitDecisionSource.Store);

    public DecisionLease(bool isAcquired, string policy, RateLimitDecision decision, RateLimitDecisionSource source)
    {
        IsAcquired = isAcquired;
        Policy = policy;
        Decision = decision;
        Source = source;
    }

    public override bool IsAcquired { get; }

    public string Policy { get; }

    public RateLimitDecision Decision { get; }

    public RateLimitDecisionSource Source { get; }

    public override IEnumerable<string> MetadataNames => ReferenceEquals(this, Undecided) ? [] : AllMetadataNames;

    public override bool TryGetMetadata(string metadataName, out object? metadata)
    {
        metadata = null;
        if (ReferenceEquals(this, Undecided))
        {
            return false;
        }

        if (metadataName == MetadataName.RetryAfter.Name)
        {
            if (IsAcquired || Decision.RetryAfter <= TimeSpan.Zero)
            {
                return false;
            }

            metadata = Decision.RetryAfter;
        }
        else if (metadataName == RateLimitMetadata.Decision.Name)
        {
            metadata = Decision;
        }
        else if (metadataName == RateLimitMetadata.Source.Name)
        {
            metadata = Source;
        }
        else if (metadataName == RateLimitMetadata.PolicyName.Name)
        {
            metadata = Policy;
        }

        return metadata is not null;
    }
}
