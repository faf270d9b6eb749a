namespace RateLimiting.Redis.Tests.Infrastructure;

/// <summary>
/// The tests against the TLS-only, password-protected cluster (<see cref="TlsRedisClusterFixture"/>),
/// one shared cluster per run. They include resharding and failover, so they run one at a time,
/// after the parallel collections.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class TlsRedisClusterCollection : ICollectionFixture<TlsRedisClusterFixture>
{
    public const string Name = "Redis cluster (TLS)";
}
