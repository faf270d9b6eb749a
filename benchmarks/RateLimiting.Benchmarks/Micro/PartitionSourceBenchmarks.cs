using BenchmarkDotNet.Attributes;
using Microsoft.AspNetCore.Http;
using RateLimiting.AspNetCore;

namespace RateLimiting.Benchmarks.Micro;

/// <summary>Reading a request's partition value (<c>PartitionBy: Header:X-Api-Key</c>), once per request.</summary>
/// <remarks>Public and unsealed: BenchmarkDotNet requires both.</remarks>
public class PartitionSourceBenchmarks
{
    private PartitionSource _source = null!;
    private DefaultHttpContext _context = null!;

    [GlobalSetup]
    public void Setup()
    {
        _source = PartitionSource.TryParse("Header:X-Api-Key", custom: null, out var error)
            ?? throw new InvalidOperationException(error);
        _context = new DefaultHttpContext();
        _context.Request.Headers["X-Api-Key"] = "client-1234";
    }

    [Benchmark]
    public string? Read() => _source.Read(_context);
}
