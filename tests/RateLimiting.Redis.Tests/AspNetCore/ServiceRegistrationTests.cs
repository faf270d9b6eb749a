using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using RateLimiting.Policies;

namespace RateLimiting.Redis.Tests.AspNetCore;

/// <summary>What <c>AddRedisSlidingWindowLimiter</c> registers; no server needed, nothing connects.</summary>
public sealed class ServiceRegistrationTests
{
    [Fact]
    public void AddRedisSlidingWindowLimiter_CalledTwice_FollowsOneReloadOnce()
    {
        var configuration = new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["RateLimiting:Redis:Configuration"] = "127.0.0.1:1",
                ["RateLimiting:Policies:p:PermitLimit"] = "5",
                ["RateLimiting:Policies:p:Window"] = "00:01:00",
                ["RateLimiting:Policies:p:PartitionBy"] = "Global",
            })
            .Build();
        var services = new ServiceCollection().AddLogging().AddSingleton<IConfiguration>(configuration);
        services.AddRedisSlidingWindowLimiter();
        services.AddRedisSlidingWindowLimiter();
        var loads = 0;
        services.Configure<RedisRateLimitingOptions>(_ => loads++);
        using var provider = services.BuildServiceProvider();
        var registry = provider.GetRequiredService<PolicyRegistry>();

        configuration["RateLimiting:Policies:p:PermitLimit"] = "7";
        configuration.Reload();

        Assert.Single(services, d => d.ServiceType == typeof(PolicyConfigurationSource));
        Assert.Equal(7, registry.Get("p").Options.PermitLimit);
        Assert.Equal(2, loads); // start-up, then the reload once
    }

    [Fact]
    public void AddRedisSlidingWindowLimiter_CalledTwice_RegistersWhatOneCallDoes()
    {
        var once = new ServiceCollection().AddRedisSlidingWindowLimiter();
        var twice = new ServiceCollection().AddRedisSlidingWindowLimiter().AddRedisSlidingWindowLimiter();

        Assert.Equal(Describe(once), Describe(twice));
    }

    private static List<string> Describe(IServiceCollection services)
        => [.. services.Select(d => $"{d.ServiceType} {d.Lifetime} {d.ImplementationType}").Order(StringComparer.Ordinal)];
}
