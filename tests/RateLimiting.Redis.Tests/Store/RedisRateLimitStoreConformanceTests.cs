using RateLimiting.Redis.Store;
using RateLimiting.Redis.Tests.Infrastructure;
using RateLimiting.Store;
using RateLimiting.Tests.Store;

namespace RateLimiting.Redis.Tests.Store;

[Collection(RedisClusterCollection.Name)]
public sealed class RedisRateLimitStoreConformanceTests : RateLimitStoreConformanceTests, IAsyncLifetime
{
    private readonly RedisRateLimitStore _store;

    public RedisRateLimitStoreConformanceTests(RedisClusterFixture cluster)
        => _store = new RedisRateLimitStore(new RedisStoreOptions
        {
            Configuration = cluster.ConfigurationString,
            Clock = Clock,
            OperationTimeout = TimeSpan.FromSeconds(10),
        });

    protected override IRateLimitStore Store => _store;

    public Task InitializeAsync() => Task.CompletedTask;

    public async Task DisposeAsync() => await _store.DisposeAsync();
}
