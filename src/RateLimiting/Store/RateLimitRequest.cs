namespace RateLimiting.Store;

/// <summary>One request for a decision from an <see cref="IRateLimitStore"/>.</summary>
/// <param name="Policy">The policy name; partitions of different policies never share a window.</param>
/// <param name="Partition">The partition value as the application sees it (an API key, an IP, a user id). Stores treat it as opaque and never store or log it raw.</param>
/// <param name="PermitLimit">The total cost admitted per window; at least 1.</param>
/// <param name="Window">The length of the sliding window; at least one millisecond.</param>
/// <param name="Cost">The cost of this request; 0 asks for the current state and records nothing.</param>
public readonly record struct RateLimitRequest(string Policy, string Partition, int PermitLimit, TimeSpan Window, int Cost)
{
    internal void Validate()
    {
        ArgumentNullException.ThrowIfNull(Policy);
        ArgumentNullException.ThrowIfNull(Partition);
        ArgumentOutOfRangeException.ThrowIfLessThan(PermitLimit, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(Window, TimeSpan.FromMilliseconds(1));
        ArgumentOutOfRangeException.ThrowIfNegative(Cost);
    }
}
