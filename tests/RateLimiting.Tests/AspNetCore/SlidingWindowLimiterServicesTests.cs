using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;
using RateLimiting.AspNetCore;
using RateLimiting.Policies;
using RateLimiting.Store;

namespace RateLimiting.Tests.AspNetCore;

/// <summary>The shared registrations, as a store package makes them (the Redis one calls the same methods).</summary>
public sealed class SlidingWindowLimiterServicesTests
{
    private readonly IConfigurationRoot _configuration = new ConfigurationBuilder()
        .AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["RateLimiting:Policies:p:PermitLimit"] = "5",
            ["RateLimiting:Policies:p:Window"] = "00:01:00",
            ["RateLimiting:Policies:p:PartitionBy"] = "Global",
        })
        .Build();

    [Fact]
    public void BindOnce_CalledTwice_RegistersEachDescriptorOnce()
    {
        var once = AddStore(new ServiceCollection());

        var twice = AddStore(AddStore(new ServiceCollection()));

        Assert.Equal(Describe(once), Describe(twice));
        Assert.Single(twice, d => d.ServiceType == typeof(IConfigureOptions<RateLimitingOptions>));
        Assert.Single(twice, d => d.ServiceType == typeof(PolicyConfigurationSource));
    }

    [Fact]
    public void BindOnce_CalledTwice_FollowsOneReloadOnce()
    {
        var services = AddStore(AddStore(new ServiceCollection()));
        var loads = 0;
        services.Configure<RateLimitingOptions>(_ => loads++);
        using var provider = services.BuildServiceProvider();
        var registry = provider.GetRequiredService<PolicyRegistry>();

        _configuration["RateLimiting:Policies:p:PermitLimit"] = "7";
        _configuration.Reload();

        Assert.Equal(7, registry.Get("p").Options.PermitLimit);
        Assert.Equal(2, loads); // start-up, then the reload once
    }

    [Fact]
    public void FollowReloads_CalledTwice_RegistersOneSource()
    {
        var services = new ServiceCollection();

        SlidingWindowLimiterServices.FollowReloads(services, _ => _configuration);
        SlidingWindowLimiterServices.FollowReloads(services, _ => _configuration);

        Assert.Single(services, d => d.ServiceType == typeof(PolicyConfigurationSource));
    }

    private ServiceCollection AddStore(ServiceCollection services)
    {
        services.AddLogging();
        var builder = SlidingWindowLimiterServices.AddCore<RateLimitingOptions>(services);
        SlidingWindowLimiterServices.BindOnce(services, builder, _ => _configuration.GetSection(PolicyRegistry.SectionName));
        services.TryAddSingleton<IRateLimitStore, InMemoryRateLimitStore>();
        return services;
    }

    private static List<string> Describe(IServiceCollection services)
        => [.. services.Select(d => $"{d.ServiceType} {d.ImplementationType?.FullName ?? (d.ImplementationInstance is null ? "factory" : "instance")}")];
}
