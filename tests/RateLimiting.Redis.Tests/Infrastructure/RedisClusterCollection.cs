namespace RateLimiting.Redis.Tests.Infrastructure;

/// <summary>
/// The test classes that share one Redis Cluster per test run. Tests in one collection run one
/// after another; tests that break the cluster (failover, resharding) belong in a collection of
/// their own.
/// </summary>
[CollectionDefinition(Name)]
public sealed class RedisClusterCollection : ICollectionFixture<RedisClusterFixture>
{
    public const string Name = "Redis cluster";
}
