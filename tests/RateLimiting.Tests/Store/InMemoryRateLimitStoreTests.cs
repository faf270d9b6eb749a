using RateLimiting.Store;

namespace RateLimiting.Tests.Store;

public sealed class InMemoryRateLimitStoreTests : RateLimitStoreConformanceTests, IDisposable
{
    private readonly InMemoryRateLimitStore _store;

    public InMemoryRateLimitStoreTests() => _store = new InMemoryRateLimitStore(Clock);

    protected override IRateLimitStore Store => _store;

    public void Dispose() => _store.Dispose();
}
