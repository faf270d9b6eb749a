using BenchmarkDotNet.Attributes;
using RateLimiting.Redis.Store;

namespace RateLimiting.Benchmarks.Micro;

/// <summary>The two key names of a decision: a SHA-256 of the partition, Base64Url, two strings.</summary>
/// <remarks>Public and unsealed: BenchmarkDotNet requires both.</remarks>
public class KeyLayoutBenchmarks
{
    private readonly RedisKeyLayout _layout = new("rl");
    private string _partition = string.Empty;

    /// <summary>Gets or sets the length of the partition value (an API key; 128 is the longest kept raw).</summary>
    [Params(16, 128)]
    public int PartitionLength { get; set; }

    [GlobalSetup]
    public void Setup() => _partition = "HEADER:X-API-KEY=" + new string('k', PartitionLength);

    [Benchmark]
    public (string Entries, string Totals) For() => _layout.For("per-client", _partition);
}
