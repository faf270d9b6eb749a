namespace RateLimiting.Policies;

/// <summary>A chain policy as validated at start-up or reload: the names of the policies it applies, in order.</summary>
internal sealed class CompiledChain
{
    private CompiledChain(string name, string[] links)
    {
        Name = name;
        Links = links;
    }

    public string Name { get; }

    /// <summary>The linked policies, in the order they decide; none of them is a chain.</summary>
    public string[] Links { get; }

    /// <summary>Compiles one chain, adding every problem to <paramref name="errors"/> under its configuration key.</summary>
    /// <param name="name">The chain's name.</param>
    /// <param name="options">Its options, of which only <see cref="SlidingWindowPolicyOptions.Chain"/> may be set.</param>
    /// <param name="policies">Every policy of the same configuration, chains included.</param>
    /// <param name="keyPrefix">The configuration section's key.</param>
    /// <param name="errors">Where problems go.</param>
    public static CompiledChain? TryCompile(string name, SlidingWindowPolicyOptions options, IReadOnlyDictionary<string, SlidingWindowPolicyOptions> policies, string keyPrefix, List<string> errors)
    {
        var key = $"{keyPrefix}:Policies:{name}";
        var before = errors.Count;
        if (!PolicyNames.IsValid(name))
        {
            errors.Add($"{key}: a policy name is {PolicyNames.Rule}.");
        }

        foreach (var setting in OwnSettings(options))
        {
            errors.Add($"{key}:{setting} cannot be set on a chain: each policy of {key}:Chain has its own.");
        }

        var links = options.Chain!;
        if (links.Count == 0)
        {
            errors.Add($"{key}:Chain is empty: name the policies to apply, in order.");
        }

        var seen = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        for (var i = 0; i < links.Count; i++)
        {
            var link = links[i];
            if (string.IsNullOrWhiteSpace(link) || !policies.TryGetValue(link, out var linked))
            {
                errors.Add($"{key}:Chain:{i}: no policy '{link}' is declared.");
            }
            else if (linked?.Chain is not null)
            {
                errors.Add($"{key}:Chain:{i}: '{link}' is a chain itself; a chain links policies that decide.");
            }
            else if (!seen.Add(link))
            {
                errors.Add($"{key}:Chain:{i}: '{link}' is linked twice, which would count each request twice.");
            }
        }

        return errors.Count == before ? new CompiledChain(name, [.. links]) : null;
    }

    private static IEnumerable<string> OwnSettings(SlidingWindowPolicyOptions options)
    {
        if (options.PermitLimit != 0)
        {
            yield return nameof(options.PermitLimit);
        }

        if (options.Window != TimeSpan.Zero)
        {
            yield return nameof(options.Window);
        }

        if (options.Limits is not null)
        {
            yield return nameof(options.Limits);
        }

        if (options.CountWhen is not null)
        {
            yield return nameof(options.CountWhen);
        }

        if (options.Block is not null)
        {
            yield return nameof(options.Block);
        }

        if (options.Overrides is not null)
        {
            yield return nameof(options.Overrides);
        }

        if (options.LimitSelector is not null)
        {
            yield return nameof(options.LimitSelector);
        }

        if (options.PartitionBy is not null)
        {
            yield return nameof(options.PartitionBy);
        }

        if (options.FallbackPartitionBy is not null)
        {
            yield return nameof(options.FallbackPartitionBy);
        }

        if (options.FailureMode != FailureMode.FailOpen)
        {
            yield return nameof(options.FailureMode);
        }

        if (options.Shadow)
        {
            yield return nameof(options.Shadow);
        }

        if (options.PartitionKeySelector is not null)
        {
            yield return nameof(options.PartitionKeySelector);
        }

        if (options.CostSelector is not null)
        {
            yield return nameof(options.CostSelector);
        }
    }
}
