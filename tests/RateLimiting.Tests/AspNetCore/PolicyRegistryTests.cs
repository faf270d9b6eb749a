using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Primitives;
using RateLimiting.Policies;

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
