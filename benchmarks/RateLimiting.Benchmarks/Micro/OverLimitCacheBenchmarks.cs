using System.Diagnostics;
using BenchmarkDotNet.Attributes;
using RateLimiting.Limiter;
using RateLimiting.Store;

namespace RateLimiting.Benchmarks.Micro;

/// <summary>The over-limit cache's answer for an abusive partition: what every request of an exhausted client costs.</summary>
/// <remarks>Public and unsealed: BenchmarkDotNet requires both.</remarks>
public class OverLimitCacheBenchmarks
{
    private const string Partition = "HEADER:X-API-KEY=abuser";
    private static readonly TimeSpan Window = TimeSpan.FromHours(1);
    private static readonly RateLimitWindow[] Limits = [new(100, Window)];

    private readonly OverLimitCache _cache = new();

    [GlobalSetup]
    public void Setup()
        => _cache.Remember(Partition, 1, Stopwatch.GetTimestamp(), Limits, new RateLimitDecision(RateLimitRejectReason.QuotaExceeded, 100, 0, Window, Window));

    [Benchmark]
    public bool TryReject() => _cache.TryReject(Partition, 1, Limits, out _);
}
