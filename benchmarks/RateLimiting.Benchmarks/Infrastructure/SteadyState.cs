using System.Diagnostics;
using System.Runtime;

namespace RateLimiting.Benchmarks.Infrastructure;

/// <summary>
/// Warm-up until the runtime has stopped compiling the code a workload runs. Tiered compilation
/// recompiles hot methods in the background (quick JIT, then instrumented, then optimized), and on
/// two busy cores that takes tens of seconds: a run measured before it ends measures the JIT and
/// unoptimized code, and penalizes the variant with the most code (ours more than no limiter).
/// </summary>
internal static class SteadyState
{
    /// <summary>
    /// Methods compiled during a warm-up pass at or under which it counts as quiet: code that runs
    /// once a second (heartbeats, timers) keeps trickling in for minutes and does not matter.
    /// </summary>
    private const long QuietCompilations = 20;

    /// <summary>Quiet passes in a row that make the code settled.</summary>
    private const int QuietPasses = 2;

    /// <summary>Runs <paramref name="pass"/> until passes compile (almost) nothing, or until <paramref name="deadline"/>.</summary>
    /// <returns>Passes run, methods compiled meanwhile, and whether the code settled before the deadline.</returns>
    public static async Task<(int Passes, long Compiled, bool Settled)> WarmUpAsync(Func<Task> pass, TimeSpan deadline)
    {
        var started = Stopwatch.GetTimestamp();
        var first = JitInfo.GetCompiledMethodCount();
        var before = first;
        var quiet = 0;
        for (var passes = 1; ; passes++)
        {
            await pass();
            var after = JitInfo.GetCompiledMethodCount();
            quiet = after - before <= QuietCompilations ? quiet + 1 : 0;
            if (quiet == QuietPasses || Stopwatch.GetElapsedTime(started) >= deadline)
            {
                return (passes, after - first, quiet == QuietPasses);
            }

            before = after;
        }
    }
}
