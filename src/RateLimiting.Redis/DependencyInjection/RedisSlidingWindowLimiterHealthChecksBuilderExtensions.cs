using Microsoft.Extensions.Diagnostics.HealthChecks;
using RateLimiting.Redis.Health;

#pragma warning disable IDE0130 // Extensions live in the namespace of what they extend, so a user needs no using.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>Adds the rate limiter's Redis health to ASP.NET Core health checks.</summary>
public static class RedisSlidingWindowLimiterHealthChecksBuilderExtensions
{
    /// <summary>
    /// Reports healthy while Redis decides, degraded while failure modes answer or a stuck connection
    /// is being replaced, unhealthy once Redis has been failing for <c>Redis:Resilience:UnhealthyAfter</c>.
    /// </summary>
    /// <param name="builder">The health checks builder.</param>
    /// <param name="name">The check's name.</param>
    /// <param name="tags">Tags to filter checks by.</param>
    /// <returns>The builder.</returns>
    public static IHealthChecksBuilder AddRedisSlidingWindowLimiter(this IHealthChecksBuilder builder, string name = "rate-limiting-redis", IEnumerable<string>? tags = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        return builder.Add(new HealthCheckRegistration(
            name,
            static sp => ActivatorUtilities.CreateInstance<RedisRateLimitingHealthCheck>(sp),
            failureStatus: null,
            tags));
    }
}
