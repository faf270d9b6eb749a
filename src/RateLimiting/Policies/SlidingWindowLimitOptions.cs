namespace RateLimiting.Policies;

/// <summary>One window of <see cref="SlidingWindowPolicyOptions.Limits"/>, bound from <c>RateLimiting:Policies:{name}:Limits:{index}</c>.</summary>
public sealed class SlidingWindowLimitOptions
{
    /// <summary>Gets or sets the total cost admitted per partition within any <see cref="Window"/>.</summary>
    /// <value>No default: required, at least 1, and larger than the limit of every shorter window.</value>
    public int PermitLimit { get; set; }

    /// <summary>Gets or sets the length of the sliding window, for example <c>00:00:01</c>.</summary>
    /// <value>No default: required, between 1 millisecond and 365 days, and unlike every other window of the policy.</value>
    public TimeSpan Window { get; set; }
}
