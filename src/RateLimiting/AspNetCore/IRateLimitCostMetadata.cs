namespace RateLimiting.AspNetCore;

/// <summary>Endpoint metadata giving the cost of each request to the endpoint (the permits it consumes).</summary>
public interface IRateLimitCostMetadata
{
    /// <summary>Gets the cost of one request; at least 1.</summary>
    int Cost { get; }
}
