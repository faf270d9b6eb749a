using RateLimiting.Benchmarks.Micro;
using RateLimiting.Benchmarks.Suite;

// eng/bench.sh runs the suite against the cluster it starts: --redis CONFIG [--quick] [--only abcdef].
// --micro [BenchmarkDotNet options] runs the micro-benchmarks instead; they need no Redis.
if (args.Length > 0 && args[0] == "--micro")
{
    return MicroBenchmarks.Run(args[1..]);
}

SuiteOptions options;
try
{
    options = SuiteOptions.Parse(args);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine(ex.Message);
    return 2;
}

return await SuiteRunner.RunAsync(options);
