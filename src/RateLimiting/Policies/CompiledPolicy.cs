using RateLimiting.AspNetCore;
using RateLimiting.Store;

namespace RateLimiting.Policies;

/// <summary>
/// A policy's options with its partition sources parsed, as validated at start-up or reload: one
/// snapshot of everything a request is decided and answered with. A request resolves it once, and
/// its decision lease carries it to the headers and the rejection, so a reload in between never
/// mixes two configurations in one response.
/// </summary>
internal sealed class CompiledPolicy
{
    private CompiledPolicy(string name, SlidingWindowPolicyOptions options, RateLimitWindow[] limits, PartitionSource primary, PartitionSource? fallback, int rejectionStatusCode)
    {
        Name = name;
        Options = options;
        Limits = limits;
        ItemNames = PolicyWindows.ItemNames(name, limits);
        Primary = primary;
        Fallback = fallback;
        RejectionStatusCode = rejectionStatusCode;
        PolicyHeaderValue = RateLimitHeaderValues.Policy(ItemNames, limits);
    }

    public string Name { get; }

    public SlidingWindowPolicyOptions Options { get; }

    /// <summary>The windows, shortest first: one, or those of <see cref="SlidingWindowPolicyOptions.Limits"/>.</summary>
    public RateLimitWindow[] Limits { get; }

    /// <summary>Each window's name in the headers (<see cref="PolicyWindows.ItemNames"/>).</summary>
    public string[] ItemNames { get; }

    public PartitionSource Primary { get; }

    public PartitionSource? Fallback { get; }

    /// <summary>The status code of a rejection for exceeding the quota (<see cref="RateLimitingOptions.RejectionStatusCode"/> of the same snapshot).</summary>
    public int RejectionStatusCode { get; }

    /// <summary>The <c>RateLimit-Policy</c> header value, computed once per (re)load.</summary>
    public string PolicyHeaderValue { get; }

    /// <summary>Compiles one policy, adding every problem to <paramref name="errors"/> under its configuration key.</summary>
    public static CompiledPolicy? TryCompile(string name, SlidingWindowPolicyOptions? options, int rejectionStatusCode, string keyPrefix, List<string> errors)
    {
        var key = $"{keyPrefix}:Policies:{name}";
        var before = errors.Count;
        if (!PolicyNames.IsValid(name))
        {
            errors.Add($"{key}: a policy name is {PolicyNames.Rule}.");
        }

        if (options is null)
        {
            errors.Add($"{key}: the policy has no settings.");
            return null;
        }

        var limits = PolicyWindows.TryCompile(options, key, errors);
        if (!Enum.IsDefined(options.FailureMode))
        {
            errors.Add($"{key}:FailureMode must be FailOpen, FailClosed or LocalFallback.");
        }

        PartitionSource? primary = null;
        if (string.IsNullOrWhiteSpace(options.PartitionBy))
        {
            errors.Add($"{key}:PartitionBy is required; use {PartitionSource.Syntax}.");
        }
        else if ((primary = PartitionSource.TryParse(options.PartitionBy, options.PartitionKeySelector, out var error)) is null)
        {
            errors.Add($"{key}:PartitionBy: {error}.");
        }

        PartitionSource? fallback = null;
        if (options.FallbackPartitionBy is not null
            && (fallback = PartitionSource.TryParse(options.FallbackPartitionBy, options.PartitionKeySelector, out var fallbackError)) is null)
        {
            errors.Add($"{key}:FallbackPartitionBy: {fallbackError}.");
        }

        return errors.Count == before ? new CompiledPolicy(name, options, limits!, primary!, fallback, rejectionStatusCode) : null;
    }
}
