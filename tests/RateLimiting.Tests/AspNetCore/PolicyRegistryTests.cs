using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using RateLimiting.Policies;
using RateLimiting.Store;

namespace RateLimiting.Tests.AspNetCore;

public sealed class PolicyRegistryTests
{
    private RateLimitingOptions _options = WithPolicy("p", permitLimit: 5);
    private CancellationTokenSource _reload = new();

    [Fact]
    public void Reload_ValidChange_AppliesToNextLookup()
    {
        using var registry = NewRegistry();

        Reload(WithPolicy("p", permitLimit: 7));

        Assert.Equal(7, registry.Get("p").Options.PermitLimit);
    }

    [Fact]
    public void Reload_InvalidChange_IsIgnored()
    {
        using var registry = NewRegistry();

        Reload(WithPolicy("p", permitLimit: 0));

        Assert.Equal(5, registry.Get("p").Options.PermitLimit);
    }

    [Fact]
    public void Reload_PolicyRemoved_KeepsItsLastSettings()
    {
        using var registry = NewRegistry();

        Reload(WithPolicy("other", permitLimit: 1));

        Assert.Equal(5, registry.Get("p").Options.PermitLimit);
        Assert.Equal(1, registry.Get("other").Options.PermitLimit);
    }

    [Fact]
    public void Constructor_InvalidOptions_ThrowsWithEveryError()
    {
        _options = WithPolicy("p", permitLimit: 0);
        _options.Policies["p"].Window = TimeSpan.Zero;
        _options.RejectionStatusCode = 200;

        var error = Assert.Throws<OptionsValidationException>(NewRegistry);

        Assert.Equal(3, error.Failures.Count());
    }

    [Fact]
    public void Names_PoliciesAndChains_ListsBoth()
    {
        _options = WithChain();

        using var registry = NewRegistry();

        Assert.Equal(["both", "other", "p"], registry.Names.Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Reload_ChainRemoved_KeepsItsLastLinks()
    {
        _options = WithChain();
        using var registry = NewRegistry();

        Reload(WithPolicy("p", permitLimit: 7));

        Assert.Equal(["p", "other"], registry.Current.Chains["both"].Links);
        Assert.Equal(7, registry.Get("p").Options.PermitLimit);
        Assert.Equal(1, registry.Get("other").Options.PermitLimit);
    }

    [Fact]
    public void Reload_LimitsChanged_NextSnapshotHasTheNewWindows()
    {
        using var registry = NewRegistry();
        var reloaded = WithPolicy("p", permitLimit: 0);
        reloaded.Policies["p"].Window = TimeSpan.Zero;
        reloaded.Policies["p"].Limits =
        [
            new SlidingWindowLimitOptions { PermitLimit = 1000, Window = TimeSpan.FromHours(1) },
            new SlidingWindowLimitOptions { PermitLimit = 10, Window = TimeSpan.FromSeconds(1) },
        ];

        Reload(reloaded);

        Assert.Equal([new RateLimitWindow(10, TimeSpan.FromSeconds(1)), new RateLimitWindow(1000, TimeSpan.FromHours(1))], registry.Get("p").Limits);
        Assert.Equal(["p-1s", "p-1h"], registry.Get("p").ItemNames);
    }

    [Fact]
    public void Reload_ChainWithUnknownLink_IsIgnored()
    {
        _options = WithChain();
        using var registry = NewRegistry();
        var reloaded = WithChain();
        reloaded.Policies["both"].Chain = ["p", "missing"];

        Reload(reloaded);

        Assert.Equal(["p", "other"], registry.Current.Chains["both"].Links);
    }

    [Fact]
    public void Reload_RemovedChainsLinkTurnedIntoAChain_IsIgnored()
    {
        // "both" goes, but its endpoints keep it, and it links "other", which becomes a chain.
        _options = WithChain();
        using var registry = NewRegistry();
        var reloaded = WithPolicy("p", permitLimit: 7);
        reloaded.Policies["other"] = new SlidingWindowPolicyOptions { Chain = ["p"] };

        Reload(reloaded);

        Assert.Equal(5, registry.Get("p").Options.PermitLimit);
        Assert.Equal(1, registry.Get("other").Options.PermitLimit);
        Assert.Equal(["p", "other"], registry.Current.Chains["both"].Links);
    }

    private static RateLimitingOptions WithChain()
    {
        var options = WithPolicy("p", permitLimit: 5);
        options.Policies["other"] = new SlidingWindowPolicyOptions { PermitLimit = 1, Window = TimeSpan.FromMinutes(1), PartitionBy = "Global" };
        options.Policies["both"] = new SlidingWindowPolicyOptions { Chain = ["p", "other"] };
        return options;
    }

    private PolicyRegistry NewRegistry()
        => new(() => _options, [() => new CancellationChangeToken(_reload.Token)], NullLogger<PolicyRegistry>.Instance);

    private void Reload(RateLimitingOptions options)
    {
        _options = options;
        var fired = _reload;
        _reload = new CancellationTokenSource();
        fired.Cancel();
    }

    private static RateLimitingOptions WithPolicy(string name, int permitLimit)
    {
        var options = new RateLimitingOptions();
        options.Policies[name] = new SlidingWindowPolicyOptions { PermitLimit = permitLimit, Window = TimeSpan.FromMinutes(1), PartitionBy = "Global" };
        return options;
    }
}
