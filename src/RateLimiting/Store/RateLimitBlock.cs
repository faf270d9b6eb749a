namespace RateLimiting.Store;

/// <summary>
/// A penalty for a partition rejected too often: after <paramref name="AfterRejections"/>
/// rejections for exceeding the quota within <paramref name="Within"/>, every request of the
/// partition is rejected for <paramref name="Duration"/>.
/// </summary>
/// <param name="AfterRejections">The rejections that start a block; at least 1.</param>
/// <param name="Within">How long a rejection counts; at least one millisecond.</param>
/// <param name="Duration">How long a block lasts; at least one millisecond.</param>
public readonly record struct RateLimitBlock(int AfterRejections, TimeSpan Within, TimeSpan Duration);
