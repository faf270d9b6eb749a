namespace RateLimiting.Store;

/// <summary>One limit of a partition: at most <paramref name="PermitLimit"/> cost within any <paramref name="Window"/>.</summary>
/// <param name="PermitLimit">The total cost admitted per window; at least 1.</param>
/// <param name="Window">The length of the sliding window; at least one millisecond.</param>
public readonly record struct RateLimitWindow(int PermitLimit, TimeSpan Window);
