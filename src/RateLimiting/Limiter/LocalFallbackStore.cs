using RateLimiting.Policies;
using RateLimiting.Store;

namespace RateLimiting.Limiter;

/// <summary>The in-memory store behind <see cref="FailureMode.LocalFallback"/>, one per application.</summary>
internal sealed class LocalFallbackStore : IDisposable
{
    public InMemoryRateLimitStore Store { get; } = new();

    public void Dispose() => Store.Dispose();
}
