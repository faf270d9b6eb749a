using RateLimiting.AspNetCore;
using RateLimiting.Store;

namespace RateLimiting.Policies;

/// <summary>One of a policy's <see cref="SlidingWindowPolicyOptions.Overrides"/>, validated at start-up or reload.</summary>
internal sealed class CompiledOverride
{
    private CompiledOverride(OverrideCondition when, OverrideAction action, RateLimitWindow[]? windows)
    {
        When = when;
        Action = action;
        Windows = windows;
    }

    public OverrideCondition When { get; }

    public OverrideAction Action { get; }

    /// <summary>The windows of <see cref="OverrideAction.Limits"/>, shortest first; null for the other actions.</summary>
    public RateLimitWindow[]? Windows { get; }

    /// <summary>Compiles override <paramref name="index"/> of a policy, adding every problem to <paramref name="errors"/> under its configuration key.</summary>
    /// <param name="policy">The policy's options, whose windows an override of one setting keeps the other of.</param>
    /// <param name="index">The override's index in <see cref="SlidingWindowPolicyOptions.Overrides"/>.</param>
    /// <param name="policyKey">The policy's configuration key.</param>
    /// <param name="errors">Where problems go.</param>
    public static CompiledOverride? TryCompile(SlidingWindowPolicyOptions policy, int index, string policyKey, List<string> errors)
    {
        var key = $"{policyKey}:Overrides:{index}";
        if (policy.Overrides![index] is not { } options)
        {
            errors.Add($"{key} has no settings.");
            return null;
        }

        var before = errors.Count;
        OverrideCondition? when = null;
        if (string.IsNullOrWhiteSpace(options.When))
        {
            errors.Add($"{key}:When is required: {OverrideCondition.Syntax}.");
        }
        else if ((when = OverrideCondition.TryParse(options.When, out var error)) is null)
        {
            errors.Add($"{key}:When does not parse: {error}.");
        }

        string[] limitKeys = [.. LimitKeys(options, key)];
        if (options.Exempt && options.Deny)
        {
            errors.Add($"{key}:Exempt and {key}:Deny cannot both be set: an override either exempts or denies.");
        }
        else if ((options.Exempt || options.Deny) && limitKeys.Length > 0)
        {
            errors.Add($"{string.Join(" and ", limitKeys)} cannot be set with {key}:{(options.Exempt ? "Exempt" : "Deny")}, which applies no limit.");
        }
        else if (!options.Exempt && !options.Deny && limitKeys.Length == 0)
        {
            errors.Add($"{key} has nothing to override: set PermitLimit, Window, Limits, Exempt or Deny.");
        }

        RateLimitWindow[]? windows = null;
        if (limitKeys.Length > 0 && !options.Exempt && !options.Deny)
        {
            windows = CompileWindows(policy, options, key, errors);
        }

        if (errors.Count > before)
        {
            return null;
        }

        var action = options.Exempt ? OverrideAction.Exempt : options.Deny ? OverrideAction.Deny : OverrideAction.Limits;
        return new CompiledOverride(when!, action, windows);
    }

    private static RateLimitWindow[]? CompileWindows(SlidingWindowPolicyOptions policy, RateLimitOverrideOptions options, string key, List<string> errors)
    {
        if (options.Limits is not null)
        {
            return PolicyWindows.TryCompile(options.PermitLimit ?? 0, options.Window ?? TimeSpan.Zero, options.Limits, key, errors);
        }

        if (policy.Limits is not null)
        {
            errors.Add($"{string.Join(" and ", LimitKeys(options, key))} cannot override a policy of several windows: give every window in {key}:Limits.");
            return null;
        }

        return PolicyWindows.TryCompile(options.PermitLimit ?? policy.PermitLimit, options.Window ?? policy.Window, limits: null, key, errors);
    }

    private static IEnumerable<string> LimitKeys(RateLimitOverrideOptions options, string key)
    {
        if (options.PermitLimit is not null)
        {
            yield return $"{key}:PermitLimit";
        }

        if (options.Window is not null)
        {
            yield return $"{key}:Window";
        }

        if (options.Limits is not null)
        {
            yield return $"{key}:Limits";
        }
    }
}
