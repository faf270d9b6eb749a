namespace RateLimiting.Policies;

/// <summary>
/// One override of a policy, bound from <c>RateLimiting:Policies:{name}:Overrides:{index}</c>: the
/// requests that match <see cref="When"/> get other limits, no limit (<see cref="Exempt"/>) or no
/// access (<see cref="Deny"/>). A policy's overrides are tried in order; the first match wins.
/// </summary>
public sealed class RateLimitOverrideOptions
{
    /// <summary>
    /// Gets or sets which requests this override applies to: a partition source, <c>=</c> and a
    /// value, for example <c>Header:X-Plan=pro</c>, <c>Claim:plan=enterprise</c> or
    /// <c>ClientIp=10.0.0.0/8</c>. Values match exactly (ordinal); <c>ClientIp</c> takes an address or
    /// a CIDR range, IPv4 or IPv6.
    /// </summary>
    /// <value>No default: required.</value>
    public string? When { get; set; }

    /// <summary>Gets or sets the permit limit for matching requests, of a policy of one window.</summary>
    /// <value>The default value is <see langword="null"/>: the policy's.</value>
    public int? PermitLimit { get; set; }

    /// <summary>Gets or sets the window for matching requests, of a policy of one window.</summary>
    /// <value>The default value is <see langword="null"/>: the policy's.</value>
    public TimeSpan? Window { get; set; }

    /// <summary>Gets or sets every window for matching requests, as <see cref="SlidingWindowPolicyOptions.Limits"/> has them; instead of <see cref="PermitLimit"/> and <see cref="Window"/>.</summary>
    /// <value>The default value is <see langword="null"/>.</value>
    public List<SlidingWindowLimitOptions>? Limits { get; set; }

    /// <summary>Gets or sets a value indicating whether matching requests are not limited: no quota is used, no store call is made and no rate-limit header is written.</summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool Exempt { get; set; }

    /// <summary>
    /// Gets or sets a value indicating whether matching requests are refused, with no store call:
    /// <see cref="RateLimitingOptions.DeniedStatusCode"/> and a problem+json body whose reason is <c>denied</c>.
    /// </summary>
    /// <value>The default value is <see langword="false"/>.</value>
    public bool Deny { get; set; }
}
