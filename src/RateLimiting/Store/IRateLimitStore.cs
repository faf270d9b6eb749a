namespace RateLimiting.Store;

/// <summary>
/// Decides, atomically, whether a request of a given cost fits into a partition's sliding window,
/// and records it when it does. Implementations must be safe to call concurrently from many threads
/// and, for distributed stores, from many processes.
/// </summary>
public interface IRateLimitStore
{
    /// <summary>Decides the request and records it when it is allowed.</summary>
    /// <param name="request">The policy, partition, limit, window and cost.</param>
    /// <param name="cancellationToken">Cancels the wait for the decision (the request was aborted).</param>
    /// <returns>The decision.</returns>
    ValueTask<RateLimitDecision> DecideAsync(RateLimitRequest request, CancellationToken cancellationToken);
}
