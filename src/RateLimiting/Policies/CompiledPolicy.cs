using System.Runtime.CompilerServices;
using Microsoft.AspNetCore.Http;
using RateLimiting.AspNetCore;
using RateLimiting.Store;

namespace RateLimiting.Policies;

/// <summary>
/// A policy's options with its partition sources and overrides parsed, as validated at start-up or
/// reload: one snapshot of everything a request is decided and answered with. A request resolves
/// it once, and its decision lease carries it to the headers and the rejection, so a reload in
/// between never mixes two configurations in one response. An override's windows make a policy
/// of their own (<see cref="Resolve"/>), equal to this one in everything else: the same name, so
/// the same store keys, and so a partition keeps its window when its limits change.
/// </summary>
internal sealed class CompiledPolicy
{
    private readonly (OverrideCondition When, OverrideAction Action, CompiledPolicy Applied)[] _overrides;

    /// <summary>The limit selector's windows, compiled once per list it returns.</summary>
    private readonly ConditionalWeakTable<IReadOnlyList<RateLimitWindow>, CompiledPolicy> _selected = [];

    private CompiledPolicy(string name, SlidingWindowPolicyOptions options, RateLimitWindow[] limits, RateLimitBlock? block, int[]? countWhen, PartitionSource primary, PartitionSource? fallback, int rejectionStatusCode, int deniedStatusCode, CompiledOverride[] overrides)
    {
        Name = name;
        Options = options;
        Limits = limits;
        Block = block;
        CountWhen = countWhen;
        ItemNames = PolicyWindows.ItemNames(name, limits);
        Primary = primary;
        Fallback = fallback;
        RejectionStatusCode = rejectionStatusCode;
        DeniedStatusCode = deniedStatusCode;
        PolicyHeaderValue = RateLimitHeaderValues.Policy(ItemNames, limits);
        _overrides = [.. overrides.Select(o => (o.When, o.Action, o.Windows is { } windows ? WithLimits(windows) : this))];
    }

    public string Name { get; }

    public SlidingWindowPolicyOptions Options { get; }

    /// <summary>The windows, shortest first: one, or those of <see cref="SlidingWindowPolicyOptions.Limits"/>, or an override's.</summary>
    public RateLimitWindow[] Limits { get; }

    /// <summary>The penalty of <see cref="SlidingWindowPolicyOptions.Block"/>, whatever the windows; none when null.</summary>
    public RateLimitBlock? Block { get; }

    /// <summary>The status codes of <see cref="SlidingWindowPolicyOptions.CountWhen"/>: the responses whose requests are charged; null when every admission counts.</summary>
    public int[]? CountWhen { get; }

    /// <summary>Each window's name in the headers (<see cref="PolicyWindows.ItemNames"/>).</summary>
    public string[] ItemNames { get; }

    public PartitionSource Primary { get; }

    public PartitionSource? Fallback { get; }

    /// <summary>The status code of a rejection for exceeding the quota (<see cref="RateLimitingOptions.RejectionStatusCode"/> of the same snapshot).</summary>
    public int RejectionStatusCode { get; }

    /// <summary>The status code of a request an override denies (<see cref="RateLimitingOptions.DeniedStatusCode"/> of the same snapshot).</summary>
    public int DeniedStatusCode { get; }

    /// <summary>The <c>RateLimit-Policy</c> header value, computed once per (re)load.</summary>
    public string PolicyHeaderValue { get; }

    /// <summary>Compiles one policy, adding every problem to <paramref name="errors"/> under its configuration key.</summary>
    public static CompiledPolicy? TryCompile(string name, SlidingWindowPolicyOptions? options, RateLimitingOptions section, string keyPrefix, List<string> errors)
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

        var block = TryCompileBlock(options.Block, key, errors);
        var countWhen = TryCompileCountWhen(options.CountWhen, key, errors);
        var overrides = new CompiledOverride[options.Overrides?.Count ?? 0];
        for (var i = 0; i < overrides.Length; i++)
        {
            overrides[i] = CompiledOverride.TryCompile(options, i, key, errors)!;
        }

        return errors.Count == before
            ? new CompiledPolicy(name, options, limits!, block, countWhen, primary!, fallback, section.RejectionStatusCode, section.DeniedStatusCode, overrides)
            : null;
    }

    /// <summary>
    /// What applies to this request: the first matching override (its index, its action and, for
    /// other limits, the policy with its windows), else the limit selector's windows, else this policy.
    /// </summary>
    public (int Override, OverrideAction Action, CompiledPolicy Policy) Resolve(HttpContext context)
    {
        for (var i = 0; i < _overrides.Length; i++)
        {
            var (when, action, applied) = _overrides[i];
            if (when.Matches(context))
            {
                return (i, action, applied);
            }
        }

        if (Options.LimitSelector?.Invoke(context) is not { } windows)
        {
            return (-1, OverrideAction.Limits, this);
        }

        if (!_selected.TryGetValue(windows, out var selected))
        {
            selected = Selected(windows);
            _selected.AddOrUpdate(windows, selected);
        }

        return (-1, OverrideAction.Limits, selected);
    }

    private CompiledPolicy WithLimits(RateLimitWindow[] limits)
        => new(Name, Options, limits, Block, CountWhen, Primary, Fallback, RejectionStatusCode, DeniedStatusCode, []);

    private static RateLimitBlock? TryCompileBlock(SlidingWindowBlockOptions? options, string key, List<string> errors)
    {
        if (options is null)
        {
            return null;
        }

        var before = errors.Count;
        if (options.AfterRejections < 1)
        {
            errors.Add($"{key}:Block:AfterRejections must be at least 1 (was {options.AfterRejections}).");
        }

        foreach (var (setting, span) in new[] { ("Within", options.Within), ("For", options.For) })
        {
            if (span < TimeSpan.FromMilliseconds(1) || span > TimeSpan.FromDays(365))
            {
                errors.Add($"{key}:Block:{setting} must be between 1 millisecond and 365 days (was {span}).");
            }
        }

        return errors.Count == before ? new RateLimitBlock(options.AfterRejections, options.Within, options.For) : null;
    }

    private static int[]? TryCompileCountWhen(RateLimitCountWhenOptions? options, string key, List<string> errors)
    {
        if (options is null)
        {
            return null;
        }

        if (options.StatusCodes is not { Count: > 0 } codes)
        {
            errors.Add($"{key}:CountWhen:StatusCodes is required: give the status codes of the responses that count, for example [ 401, 403 ].");
            return null;
        }

        var before = errors.Count;
        for (var i = 0; i < codes.Count; i++)
        {
            if (codes[i] is < 100 or > 599)
            {
                errors.Add($"{key}:CountWhen:StatusCodes:{i} must be between 100 and 599 (was {codes[i]}).");
            }
        }

        return errors.Count == before ? [.. codes] : null;
    }

    private CompiledPolicy Selected(IReadOnlyList<RateLimitWindow> windows)
    {
        var errors = new List<string>();
        var limits = PolicyWindows.TryCompile(0, TimeSpan.Zero, [.. windows.Select(w => new SlidingWindowLimitOptions { PermitLimit = w.PermitLimit, Window = w.Window })], $"{Name}:LimitSelector", errors);
        return limits is not null && errors.Count == 0
            ? WithLimits(limits)
            : throw new InvalidOperationException($"The LimitSelector of rate-limit policy '{Name}' returned windows that are not valid: {string.Join(" ", errors)}");
    }
}
