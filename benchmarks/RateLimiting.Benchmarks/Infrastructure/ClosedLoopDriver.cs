using System.Diagnostics;

namespace RateLimiting.Benchmarks.Infrastructure;

/// <summary>
/// N callers, each awaiting one operation before starting the next: N operations in flight, as N
/// concurrent requests of a server would be. Bounded by a count and by a deadline.
/// </summary>
internal static class ClosedLoopDriver
{
    public static async Task<LoadResult> RunAsync(BenchCluster cluster, int callers, long total, TimeSpan deadline, Func<long, ValueTask> operation)
    {
        var next = -1L;
        var completed = 0L;
        var failed = 0L;
        var firstFailure = (Exception?)null;
        var redisCpuBefore = cluster.CpuSeconds();
        var clientCpuBefore = Process.GetCurrentProcess().TotalProcessorTime;
        var started = Stopwatch.GetTimestamp();
        var stopAt = started + (long)(deadline.TotalSeconds * Stopwatch.Frequency);

        async Task CallerAsync()
        {
            // Every caller starts on the thread pool, not inline on the one that starts them all.
            await Task.Yield();
            while (true)
            {
                var index = Interlocked.Increment(ref next);
                if (index >= total || Stopwatch.GetTimestamp() > stopAt)
                {
                    return;
                }

                try
                {
                    await operation(index);
                }
#pragma warning disable CA1031 // A failed operation is counted and reported, never fatal to the run.
                catch (Exception ex)
#pragma warning restore CA1031
                {
                    Interlocked.Increment(ref failed);
                    Interlocked.CompareExchange(ref firstFailure, ex, null);
                }

                Interlocked.Increment(ref completed);
            }
        }

        var tasks = new Task[callers];
        for (var i = 0; i < callers; i++)
        {
            tasks[i] = CallerAsync();
        }

        await Task.WhenAll(tasks);
        var elapsed = Stopwatch.GetElapsedTime(started);
        var clientCpu = Process.GetCurrentProcess().TotalProcessorTime - clientCpuBefore;
        var redisCpu = TimeSpan.FromSeconds(cluster.CpuSeconds() - redisCpuBefore);
        if (firstFailure is not null)
        {
            Console.Error.WriteLine($"bench: {failed} of {completed} operations failed; the first: {firstFailure.GetType().Name}: {firstFailure.Message}");
        }

        return new LoadResult(completed, failed, elapsed, clientCpu, redisCpu);
    }
}
