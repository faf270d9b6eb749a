namespace RateLimiting.Benchmarks.Infrastructure;

/// <summary>What one wrk run reports.</summary>
/// <param name="RequestsPerSecond">wrk's "Requests/sec".</param>
/// <param name="Requests">Requests completed.</param>
/// <param name="SocketErrors">Connect, read, write and timeout errors added up.</param>
/// <param name="P50">Median latency.</param>
/// <param name="P99">99th percentile latency.</param>
internal sealed record WrkResult(double RequestsPerSecond, long Requests, long SocketErrors, TimeSpan P50, TimeSpan P99);
