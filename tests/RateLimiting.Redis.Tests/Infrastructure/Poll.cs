namespace RateLimiting.Redis.Tests.Infrastructure;

/// <summary>Waits for a condition with a deadline instead of sleeping a fixed time.</summary>
public static class Poll
{
    private static readonly TimeSpan LastProbeTime = TimeSpan.FromSeconds(10);

    public static async Task<T> UntilAsync<T>(Func<Task<T>> probe, Func<T, bool> done, TimeSpan deadline)
    {
        var started = System.Diagnostics.Stopwatch.StartNew();
        var delay = TimeSpan.FromMilliseconds(5);
        while (true)
        {
            // A probe that never finishes (a client call is timed out only at its heartbeat, if at all) must not outlive the poll.
            var left = deadline - started.Elapsed;
            var value = await probe().WaitAsync(left > LastProbeTime ? left : LastProbeTime);
            if (done(value))
            {
                return value;
            }

            if (started.Elapsed > deadline)
            {
                throw new TimeoutException($"The condition did not hold within {deadline}; last value: {value}.");
            }

            await Task.Delay(delay);
            delay = TimeSpan.FromTicks(Math.Min(delay.Ticks * 2, TimeSpan.FromMilliseconds(100).Ticks));
        }
    }
}
