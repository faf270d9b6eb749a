using Microsoft.AspNetCore.Http;
using RateLimiting.AspNetCore;

namespace RateLimiting.Policies;

/// <summary>One named quota, bound from <c>RateLimiting:Policies:{name}</c>.</summary>
public sealed class SlidingWindowPolicyOptions
{
    /// <summary>Gets or sets the total cost admitted per partition within any <see cref="Window"/>.</summary>
    /// <value>No default: required, at least 1.</value>
    public int PermitLimit { get; set; }

    /// <summary>Gets or sets the length of the sliding window, for example <c>01:00:00</c>.</summary>
    /// <value>No default: required, between 1 millisecond and 365 days.</value>
    public TimeSpan Window { get; set; }

    /// <summary>
    /// Gets or sets where the partition value comes from: <c>Header:{name}</c>, <c>Claim:{type}</c>,
    /// <c>ClientIp</c>, <c>Route:{name}</c>, <c>Query:{name}</c>, <c>Global</c> (one partition for
    /// everybody) or <c>Custom</c> (<see cref="PartitionKeySelector"/>).
    /// </summary>
    /// <value>No default: required.</value>
    public string? PartitionBy { get; set; }

    /// <summary>Gets or sets the source used when <see cref="PartitionBy"/> yields no value, in the same syntax.</summary>
    /// <value>The default value is <see langword="null"/>: requests without a value share one partition.</value>
    public string? FallbackPartitionBy { get; set; }

    /// <summary>Gets or sets what the policy answers while the store cannot decide in time.</summary>
    /// <value>The default value is <see cref="FailureMode.FailOpen"/>.</value>
    public FailureMode FailureMode { get; set; } = FailureMode.FailOpen;

    /// <summary>Gets or sets a value indicating whether the policy only records: it decides and reports, but never rejects. For safe roll-out.</summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool Shadow { get; set; }

    /// <summary>Gets or sets the partition value selector used when <see cref="PartitionBy"/> is <c>Custom</c>; return <see langword="null"/> for none. Set in code.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Func<HttpContext, string?>? PartitionKeySelector { get; set; }

    /// <summary>
    /// Gets or sets the cost of a request, computed per request; set in code. When <see langword="null"/>, the cost comes
    /// from the endpoint's <see cref="IRateLimitCostMetadata"/>, else 1.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Func<HttpContext, int>? CostSelector { get; set; }
}
