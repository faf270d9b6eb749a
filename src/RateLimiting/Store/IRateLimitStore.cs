namespace RateLimiting.Store;

/// <summary>
/// Decides, atomically, whether a request of a given cost fits into every window of a partition,
/// and records it when it does. Implementations must be safe to call concurrently from many threads
/// and, for distributed stores, from many processes.
/// </summary>
public interface IRateLimitStore
{
    /// <summary>Decides the request and records it when it is allowed.</summary>
    /// <param name="request">The policy, partition, windows and cost.</param>
    /// <param name="cancellationToken">Cancels the wait for the decision (the request was aborted).</param>
    /// <returns>The decision.</returns>
    ValueTask<RateLimitDecision> DecideAsync(RateLimitRequest request, CancellationToken cancellationToken);

    /// <summary>
    /// Takes back an admission, as if the request had never been recorded: a later policy of a
    /// chain rejected it. Nothing happens when it has left the window already.
    /// </summary>
    /// <param name="request">The request exactly as it was decided.</param>
    /// <param name="admission">The <see cref="RateLimitDecision.Admission"/> of its decision.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes when the admission is taken back.</returns>
    ValueTask RefundAsync(RateLimitRequest request, long admission, CancellationToken cancellationToken);
}
