namespace RateLimiting.Benchmarks.Store;

/// <summary>The latencies of one open-loop run, sorted, in Stopwatch ticks, and how the run went.</summary>
internal sealed record Latencies(long[] Sorted, string Note);
