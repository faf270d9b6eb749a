namespace RateLimiting.Redis.Tests.Infrastructure;

/// <summary>
/// The scenarios that break a cluster (MOVED loops, failover, resharding, black holes). Each gets
/// a fresh <see cref="ProxiedRedisCluster"/> of its own; they run one at a time, after the
/// parallel collections, because they measure recovery and a busy 2-core machine distorts it.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class DestructiveClusterCollection
{
    public const string Name = "Redis cluster (destructive)";
}
