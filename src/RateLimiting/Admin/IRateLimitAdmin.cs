namespace RateLimiting.Admin;

/// <summary>
/// Operates quotas at run time: reads a partition's usage, resets it, and raises or lowers its
/// limit for a while. A partition is named by
/// the value its policy's <c>PartitionBy</c> reads (an API key, a user id, an IP address), and is
/// hashed exactly as requests hash it; the value is never logged or stored. Every call is bounded
/// by the store's deadline, as decisions are.
/// </summary>
public interface IRateLimitAdmin
{
    /// <summary>Reads the partition's usage without changing it.</summary>
    /// <param name="policy">A policy name (not a chain's).</param>
    /// <param name="partitionValue">The value the policy's source reads from a request.</param>
    /// <param name="fallback">Whether <paramref name="partitionValue"/> is that of the policy's <c>FallbackPartitionBy</c>.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>The usage of the window with the least remaining.</returns>
    /// <exception cref="ArgumentException">The policy is unknown, is a chain, or has no fallback source.</exception>
    ValueTask<RateLimitUsage> GetUsageAsync(string policy, string partitionValue, bool fallback = false, CancellationToken cancellationToken = default);

    /// <summary>Clears the partition's windows and any penalty block, on every instance: over-limit caches forget what they remembered of the policy.</summary>
    /// <param name="policy">A policy name (not a chain's).</param>
    /// <param name="partitionValue">The value the policy's source reads from a request.</param>
    /// <param name="fallback">Whether <paramref name="partitionValue"/> is that of the policy's <c>FallbackPartitionBy</c>.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>Whether the partition had anything to clear.</returns>
    /// <exception cref="ArgumentException">The policy is unknown, is a chain, or has no fallback source.</exception>
    ValueTask<bool> ResetAsync(string policy, string partitionValue, bool fallback = false, CancellationToken cancellationToken = default);

    /// <summary>
    /// Replaces the permit limit of the partition's longest window (its only one, for a policy of
    /// one window) by <paramref name="permitLimit"/> for <paramref name="duration"/>, in every
    /// instance's decisions, until it expires by itself or is cleared. Setting it again replaces it.
    /// </summary>
    /// <param name="policy">A policy name (not a chain's).</param>
    /// <param name="partitionValue">The value the policy's source reads from a request.</param>
    /// <param name="permitLimit">The temporary limit, at least 1.</param>
    /// <param name="duration">How long it holds: more than zero, at most 366 days.</param>
    /// <param name="fallback">Whether <paramref name="partitionValue"/> is that of the policy's <c>FallbackPartitionBy</c>.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>A task that completes once the limit is set.</returns>
    /// <exception cref="ArgumentException">The policy is unknown, is a chain, or has no fallback source.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="permitLimit"/> or <paramref name="duration"/> is out of range.</exception>
    ValueTask SetOverrideAsync(string policy, string partitionValue, int permitLimit, TimeSpan duration, bool fallback = false, CancellationToken cancellationToken = default);

    /// <summary>Clears the partition's temporary limit, in every instance's decisions.</summary>
    /// <param name="policy">A policy name (not a chain's).</param>
    /// <param name="partitionValue">The value the policy's source reads from a request.</param>
    /// <param name="fallback">Whether <paramref name="partitionValue"/> is that of the policy's <c>FallbackPartitionBy</c>.</param>
    /// <param name="cancellationToken">Cancels the wait.</param>
    /// <returns>Whether the partition had a temporary limit.</returns>
    /// <exception cref="ArgumentException">The policy is unknown, is a chain, or has no fallback source.</exception>
    ValueTask<bool> ClearOverrideAsync(string policy, string partitionValue, bool fallback = false, CancellationToken cancellationToken = default);
}
