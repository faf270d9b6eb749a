namespace RateLimiting.Benchmarks.Http;

/// <summary>What one probe request of (f) got.</summary>
/// <param name="DecidedByStore">Whether Redis decided it (a 200 with the RateLimit headers), rather than the failure mode.</param>
/// <param name="At">When the answer came, from the moment the caller counts from.</param>
/// <param name="Failure">Another status than 200, or why there was no answer; null otherwise.</param>
internal readonly record struct ProbeAnswer(bool DecidedByStore, TimeSpan At, string? Failure);
