using System.Globalization;
using RateLimiting.Store;

namespace RateLimiting.Policies;

/// <summary>
/// A policy's windows, from its one-window form (<c>PermitLimit</c> and <c>Window</c>) or from its
/// <c>Limits</c>, checked and sorted shortest first, and the names its headers give them.
/// </summary>
internal static class PolicyWindows
{
    private static readonly TimeSpan Shortest = TimeSpan.FromMilliseconds(1);
    private static readonly TimeSpan Longest = TimeSpan.FromDays(365);

    /// <summary>The windows, shortest first; null, with every problem added to <paramref name="errors"/> under its key, when they are not valid.</summary>
    /// <param name="options">The policy's options.</param>
    /// <param name="key">The policy's configuration key, for example <c>RateLimiting:Policies:tiered</c>.</param>
    /// <param name="errors">Where problems go.</param>
    public static RateLimitWindow[]? TryCompile(SlidingWindowPolicyOptions options, string key, List<string> errors)
        => TryCompile(options.PermitLimit, options.Window, options.Limits, key, errors);

    /// <summary>The windows of a one-window form or of <paramref name="limits"/> (a setting of the one-window form beside them is an error), as <see cref="TryCompile(SlidingWindowPolicyOptions, string, List{string})"/>.</summary>
    public static RateLimitWindow[]? TryCompile(int permitLimit, TimeSpan window, List<SlidingWindowLimitOptions>? limits, string key, List<string> errors)
    {
        if (limits is null)
        {
            var valid = CheckWindow(permitLimit, window, key, errors);
            return valid ? [new RateLimitWindow(permitLimit, window)] : null;
        }

        var before = errors.Count;
        string[] oneWindowForm = [.. OneWindowKeys(permitLimit, window, key)];
        if (oneWindowForm.Length > 0)
        {
            errors.Add($"{string.Join(" and ", oneWindowForm)} cannot be set with {key}:Limits: give every window in {key}:Limits.");
        }

        if (limits.Count == 0)
        {
            errors.Add($"{key}:Limits is empty: give at least one window, each with a PermitLimit and a Window.");
            return null;
        }

        for (var i = 0; i < limits.Count; i++)
        {
            if (limits[i] is null)
            {
                errors.Add($"{key}:Limits:{i} has no settings.");
            }
            else
            {
                CheckWindow(limits[i].PermitLimit, limits[i].Window, $"{key}:Limits:{i}", errors);
            }
        }

        if (errors.Count > before)
        {
            return null;
        }

        // Configuration order, shortest first: messages name each window by its index as configured.
        var order = Enumerable.Range(0, limits.Count).OrderBy(i => limits[i].Window).ToArray();
        for (var at = 1; at < order.Length; at++)
        {
            var (shorter, longer) = (order[at - 1], order[at]);
            if (limits[shorter].Window == limits[longer].Window)
            {
                errors.Add($"{key}:Limits:{longer}:Window equals {key}:Limits:{shorter}:Window ({limits[longer].Window}): each window must differ.");
            }
            else if (limits[longer].PermitLimit <= limits[shorter].PermitLimit)
            {
                errors.Add($"{key}:Limits:{longer}:PermitLimit ({limits[longer].PermitLimit}) must be larger than {key}:Limits:{shorter}:PermitLimit ({limits[shorter].PermitLimit}): "
                    + $"a window of {limits[longer].Window} admitting no more than the shorter one of {limits[shorter].Window} leaves {key}:Limits:{shorter} nothing to reject.");
            }
        }

        return errors.Count > before ? null : [.. order.Select(i => new RateLimitWindow(limits[i].PermitLimit, limits[i].Window))];
    }

    /// <summary>
    /// The names of the windows in the headers: the policy's name for a policy of one window, else
    /// the name, a dash and the window's length in its largest whole unit (<c>tiered-1s</c>,
    /// <c>tiered-1h</c>, <c>tiered-90s</c>, <c>tiered-1500ms</c>).
    /// </summary>
    public static string[] ItemNames(string policy, RateLimitWindow[] windows)
        => windows.Length == 1 ? [policy] : [.. windows.Select(window => $"{policy}-{Length(window.Window)}")];

    private static string Length(TimeSpan window)
    {
        var ticks = window.Ticks;
        var (count, unit) = (ticks % TimeSpan.TicksPerDay == 0) ? (ticks / TimeSpan.TicksPerDay, "d")
            : (ticks % TimeSpan.TicksPerHour == 0) ? (ticks / TimeSpan.TicksPerHour, "h")
            : (ticks % TimeSpan.TicksPerMinute == 0) ? (ticks / TimeSpan.TicksPerMinute, "m")
            : (ticks % TimeSpan.TicksPerSecond == 0) ? (ticks / TimeSpan.TicksPerSecond, "s")
            : (ticks % TimeSpan.TicksPerMillisecond == 0) ? (ticks / TimeSpan.TicksPerMillisecond, "ms")
            : (ticks / TimeSpan.TicksPerMicrosecond, "us");
        return count.ToString(CultureInfo.InvariantCulture) + unit;
    }

    private static IEnumerable<string> OneWindowKeys(int permitLimit, TimeSpan window, string key)
    {
        if (permitLimit != 0)
        {
            yield return $"{key}:PermitLimit";
        }

        if (window != TimeSpan.Zero)
        {
            yield return $"{key}:Window";
        }
    }

    private static bool CheckWindow(int permitLimit, TimeSpan window, string key, List<string> errors)
    {
        var valid = true;
        if (permitLimit < 1)
        {
            errors.Add($"{key}:PermitLimit must be at least 1 (was {permitLimit}).");
            valid = false;
        }

        if (window < Shortest || window > Longest)
        {
            errors.Add($"{key}:Window must be between 1 millisecond and 365 days (was {window}).");
            valid = false;
        }

        return valid;
    }
}
