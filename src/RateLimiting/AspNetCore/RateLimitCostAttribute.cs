namespace RateLimiting.AspNetCore;

/// <summary>Gives the cost of each request to a controller or action: the permits it consumes from the policy's limit.</summary>
[AttributeUsage(AttributeTargets.Class | AttributeTargets.Method, AllowMultiple = false)]
public sealed class RateLimitCostAttribute : Attribute, IRateLimitCostMetadata
{
    /// <summary>Creates the attribute.</summary>
    /// <param name="cost">The cost of one request; at least 1.</param>
    public RateLimitCostAttribute(int cost)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(cost, 1);
        Cost = cost;
    }

    /// <inheritdoc />
    public int Cost { get; }
}
