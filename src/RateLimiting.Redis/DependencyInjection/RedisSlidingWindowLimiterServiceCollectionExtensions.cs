using System.Diagnostics.Metrics;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RateLimiting.Admin;
using RateLimiting.AspNetCore;
using RateLimiting.Policies;
using RateLimiting.Redis;
using RateLimiting.Redis.Connection;
using RateLimiting.Redis.Store;
using RateLimiting.Store;
using RateLimiting.Time;

#pragma warning disable IDE0130 // Extensions live in the namespace of what they extend, so a user needs no using.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds exact sliding-window rate limiting on Redis Cluster to ASP.NET Core's rate limiter.</summary>
public static class RedisSlidingWindowLimiterServiceCollectionExtensions
{
    /// <summary>
    /// Adds the limiter configured from the <c>RateLimiting</c> section of the application's configuration.
    /// Each policy in <c>RateLimiting:Policies</c> becomes an ASP.NET Core rate limiter policy of the same
    /// name, for <c>[EnableRateLimiting("name")]</c> and <c>RequireRateLimiting("name")</c>.
    /// </summary>
    /// <param name="services">The services.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddRedisSlidingWindowLimiter(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        SlidingWindowLimiterServices.BindOnce(services, AddCore(services), static sp => sp.GetRequiredService<IConfiguration>().GetSection(PolicyRegistry.SectionName));
        return services;
    }

    /// <summary>Adds the limiter configured from <paramref name="section"/>, reloaded when it changes.</summary>
    /// <param name="services">The services.</param>
    /// <param name="section">A section shaped like <c>RateLimiting</c>.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddRedisSlidingWindowLimiter(this IServiceCollection services, IConfigurationSection section)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(section);
        SlidingWindowLimiterServices.BindOnce(services, AddCore(services), _ => section);
        return services;
    }

    /// <summary>Adds the limiter configured in code.</summary>
    /// <param name="services">The services.</param>
    /// <param name="configure">Sets the Redis options and declares the policies.</param>
    /// <returns>The services.</returns>
    public static IServiceCollection AddRedisSlidingWindowLimiter(this IServiceCollection services, Action<RedisRateLimitingOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configure);
        AddCore(services).Configure(configure);
        return services;
    }

    private static OptionsBuilder<RedisRateLimitingOptions> AddCore(IServiceCollection services)
    {
        var builder = SlidingWindowLimiterServices.AddCore<RedisRateLimitingOptions>(services);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<RedisRateLimitingOptions>, RedisRateLimitingOptionsValidator>());
        services.TryAddSingleton(static sp => new RedisConnection(
            sp.GetRequiredService<IOptions<RedisRateLimitingOptions>>().Value.Redis,
            sp.GetRequiredService<ILoggerFactory>().CreateLogger<RedisRateLimitStore>(),
            MonotonicClock.Instance,
            sp.GetService<IMeterFactory>()));
        services.TryAddSingleton(static sp => new RedisRateLimitStore(sp.GetRequiredService<RedisConnection>(), sp.GetRequiredService<IOptions<RedisRateLimitingOptions>>().Value.Redis));
        services.TryAddSingleton<IRateLimitStore>(static sp => sp.GetRequiredService<RedisRateLimitStore>());
        services.TryAddSingleton<IRateLimitAdmin, RateLimitAdmin>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<Microsoft.Extensions.Hosting.IHostedService, RedisStoreWarmUp>());
        return builder;
    }
}
