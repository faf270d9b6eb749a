using System.Threading.RateLimiting;
using RateLimiting.Policies;
using RateLimiting.Store;

namespace RateLimiting.Limiter;

/// <summary>
/// A lease carrying one decision and the policy snapshot that made it, so that the headers and the
/// rejection are written from that snapshot. Nothing to release: windows expire on their own.
/// </summary>
internal sealed class DecisionLease : RateLimitLease
{
    private static readonly string[] AllMetadataNames =
        [MetadataName.RetryAfter.Name, RateLimitMetadata.Decision.Name, RateLimitMetadata.Source.Name, RateLimitMetadata.PolicyName.Name];

    public DecisionLease(bool isAcquired, CompiledPolicy policy, in RateLimitRequest request, RateLimitDecision decision, RateLimitDecisionSource source)
    {
        IsAcquired = isAcquired;
        Policy = policy;
        Request = request;
        Decision = decision;
        Source = source;
    }

    public override bool IsAcquired { get; }

    /// <summary>The snapshot of the policy that decided.</summary>
    public CompiledPolicy Policy { get; }

    /// <summary>What was asked: the partition, the windows and the cost, which a refund repeats.</summary>
    public RateLimitRequest Request { get; }

    public RateLimitDecision Decision { get; }

    public RateLimitDecisionSource Source { get; }

    public override IEnumerable<string> MetadataNames => AllMetadataNames;

    public override bool TryGetMetadata(string metadataName, out object? metadata)
    {
        metadata = null;
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
            metadata = Policy.Name;
        }

        return metadata is not null;
    }
}
