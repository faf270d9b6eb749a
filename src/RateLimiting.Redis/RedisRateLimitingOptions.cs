using RateLimiting.Policies;
using RateLimiting.Redis.Store;

namespace RateLimiting.Redis;

/// <summary>The policies and the Redis store, bound from the <c>RateLimiting</c> configuration section.</summary>
public sealed class RedisRateLimitingOptions : RateLimitingOptions
{
    /// <summary>Gets the Redis store options (section <c>RateLimiting:Redis</c>).</summary>
    public RedisStoreOptions Redis { get; } = new();
}
