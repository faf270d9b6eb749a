namespace RateLimiting.Policies;

/// <summary>
/// The policies and response settings, bound from the <c>RateLimiting</c> configuration section.
/// Store packages derive from it to add their own section (for example <c>Redis</c>), which is why
/// it is not sealed.
/// </summary>
public class RateLimitingOptions
{
    /// <summary>Gets the policies by name. Names are 1 to 64 characters of letters, digits, '.', '_', '-' or ':'.</summary>
    /// <value>The default value is an empty dictionary (names compared case-insensitively).</value>
    public Dictionary<string, SlidingWindowPolicyOptions> Policies { get; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>Gets or sets the status code of a rejection for exceeding a quota.</summary>
    /// <value>The default value is 429 (Too Many Requests). Between 400 and 599.</value>
    public int RejectionStatusCode { get; set; } = 429;

    /// <summary>Gets or sets the status code of a request that an override with <see cref="RateLimitOverrideOptions.Deny"/> refuses.</summary>
    /// <value>The default value is 403 (Forbidden). Between 400 and 599.</value>
    public int DeniedStatusCode { get; set; } = 403;

    /// <summary>
    /// Gets or sets a value indicating whether a partition rejected with a Retry-After is rejected
    /// again in this instance, without a store call, until then. It never rejects what the store
    /// would admit; it makes abusive clients cost almost nothing.
    /// </summary>
    /// <value>The default value is <see langword="true"/>.</value>
    public bool OverLimitCache { get; set; } = true;

    /// <summary>Keys of the bound configuration that did not bind; reported by validation with every other error.</summary>
    internal List<string> ConfigurationErrors { get; } = [];
}
