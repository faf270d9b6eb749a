using RateLimiting.Admin;

namespace RateLimiting.Store;

/// <summary>What a store does for <see cref="IRateLimitAdmin"/>: reads a partition's usage, resets it and gives it a temporary limit, for every instance.</summary>
internal interface IRateLimitStoreAdmin
{
    /// <summary>Raised with the policy of a partition reset or given a temporary limit by any instance, so that over-limit caches forget it.</summary>
    event Action<string>? PartitionChanged;

    /// <summary>The usage of the request's partition over its windows, as a decision at this time would count it; nothing is written.</summary>
    ValueTask<RateLimitUsage> GetUsageAsync(RateLimitRequest request, CancellationToken cancellationToken);

    /// <summary>Clears the request's partition (its windows and any penalty block); false when there was nothing to clear.</summary>
    ValueTask<bool> ResetAsync(RateLimitRequest request, CancellationToken cancellationToken);

    /// <summary>
    /// Replaces the permit limit of the request's longest window by <paramref name="permitLimit"/>
    /// for <paramref name="duration"/>, in every decision; 0 clears it (false when there was none).
    /// </summary>
    ValueTask<bool> SetTemporaryLimitAsync(RateLimitRequest request, int permitLimit, TimeSpan duration, CancellationToken cancellationToken);
}
