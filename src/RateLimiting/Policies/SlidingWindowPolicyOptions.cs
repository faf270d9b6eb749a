using Microsoft.AspNetCore.Http;
using RateLimiting.AspNetCore;
using RateLimiting.Store;

namespace RateLimiting.Policies;

/// <summary>One named quota, bound from <c>RateLimiting:Policies:{name}</c>.</summary>
public sealed class SlidingWindowPolicyOptions
{
    /// <summary>Gets or sets the total cost admitted per partition within any <see cref="Window"/>: the one-window form.</summary>
    /// <value>No default: required unless <see cref="Limits"/> or <see cref="Chain"/> is set; at least 1.</value>
    public int PermitLimit { get; set; }

    /// <summary>Gets or sets the length of the sliding window, for example <c>01:00:00</c>: the one-window form.</summary>
    /// <value>No default: required unless <see cref="Limits"/> or <see cref="Chain"/> is set; between 1 millisecond and 365 days.</value>
    public TimeSpan Window { get; set; }

    /// <summary>
    /// Gets or sets several windows of one partition, for example 10 per second and 1,000 per hour,
    /// decided together in one store call: a request is admitted only if every window has room for
    /// its cost. Instead of <see cref="PermitLimit"/> and <see cref="Window"/>.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: the one-window form.</value>
    public List<SlidingWindowLimitOptions>? Limits { get; set; }

    /// <summary>
    /// Gets or sets the overrides of this policy's limits for some requests, tried in order: the
    /// first whose <see cref="RateLimitOverrideOptions.When"/> matches gives the request other
    /// limits, exempts it or denies it. A partition keeps its window when its limits change (an
    /// upgraded client keeps what it has used and gains the new headroom).
    /// </summary>
    /// <value>The default value is <see langword="null"/>: no override.</value>
    public List<RateLimitOverrideOptions>? Overrides { get; set; }

    /// <summary>
    /// Gets or sets the responses that count: with it, a request is checked before it runs (a
    /// partition with no room is rejected) and its cost is charged after its response, only when
    /// the response matches, for example failed logins.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: every admitted request counts when it is admitted.</value>
    public RateLimitCountWhenOptions? CountWhen { get; set; }

    /// <summary>
    /// Gets or sets a penalty for partitions rejected again and again: blocked for a while, on
    /// every instance, decided in the same store call as the quota.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: no block.</value>
    public SlidingWindowBlockOptions? Block { get; set; }

    /// <summary>
    /// Gets or sets a selector of a request's windows, set in code, for requests that no override
    /// matches, for example a plan's quota read from a database. It runs for every such request, so
    /// it must answer from memory: cache its lookups (per key, with an expiry) and return the same
    /// list instance for the same windows, which is then validated once. Return
    /// <see langword="null"/> for the policy's own windows. The windows must be valid as
    /// <see cref="Limits"/> are, shortest first; invalid ones throw.
    /// </summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public Func<HttpContext, IReadOnlyList<RateLimitWindow>?>? LimitSelector { get; set; }

    /// <summary>
    /// Gets or sets the names of other policies that this one applies in order, for example a
    /// per-client quota and then a global cap; a request must be admitted by each. A rejection by a
    /// later one takes back the earlier admissions of the request. A chain has no other settings:
    /// each linked policy keeps its own partition, windows, cost, failure mode and shadow mode.
    /// </summary>
    /// <value>The default value is <see langword="null"/>: the policy is not a chain.</value>
    public List<string>? Chain { get; set; }

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
