using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Running;
using BenchmarkDotNet.Toolchains.InProcess.Emit;

namespace RateLimiting.Benchmarks.Micro;

/// <summary>
/// BenchmarkDotNet over the allocation-sensitive pieces of the request path, in process (no
/// generated project to build) and short, with the memory diagnoser: <c>eng/bench.sh micro</c>.
/// </summary>
internal static class MicroBenchmarks
{
    /// <summary>Runs the benchmarks <paramref name="args"/> select with <c>--filter</c>, all of them without one (never the interactive menu).</summary>
    public static int Run(string[] args)
    {
        var config = ManualConfig.Create(DefaultConfig.Instance)
            .AddJob(Job.ShortRun.WithToolchain(InProcessEmitToolchain.Instance))
            .AddDiagnoser(MemoryDiagnoser.Default);
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(MicroBenchmarks).Assembly)
            .Run(args.Contains("--filter") ? args : [.. args, "--filter", "*"], config);
        return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
    }
}
