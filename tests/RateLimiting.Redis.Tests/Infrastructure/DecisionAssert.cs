namespace RateLimiting.Redis.Tests.Infrastructure;

/// <summary>Assertions on the decisions of a scenario.</summary>
internal static class DecisionAssert
{
    /// <summary>
    /// Most deadline misses tolerated among decisions that Redis should have answered. This 2-core
    /// machine is shared (builds, benchmarks, other suites): a stall of a few hundred milliseconds
    /// ends the calls in flight at that moment with a timeout, which says nothing about the layer.
    /// A layer fault looks different: another error (READONLY, MOVED, no connection), or timeouts
    /// on a large share of the decisions.
    /// </summary>
    public const double ToleratedDeadlineMisses = 0.01;

    /// <summary>
    /// Asserts that the store answered every one of <paramref name="decisions"/>, allowing only a few
    /// deadline misses (<see cref="ToleratedDeadlineMisses"/>): the store's errors for decisions on the
    /// partitions <paramref name="on"/> selects that started between <paramref name="from"/> and
    /// <paramref name="to"/> (Stopwatch timestamps) must all be timeouts, and few.
    /// </summary>
    public static void AnsweredByStore(IReadOnlyCollection<DecisionRecord> decisions, CountingStore store, Func<string, bool> on, long from, long to, string what)
    {
        Assert.NotEmpty(decisions);
        var errors = store.ErrorsBetween(from, to, on);
        var other = errors.Where(error => error.Key != nameof(TimeoutException)).ToArray();
        Assert.True(other.Length == 0, $"{what}: the store failed with {string.Join(", ", other.Select(e => $"{e.Key} x{e.Value}"))}.");
        var byFailureMode = decisions.Count(decision => !decision.ByStore);
        Assert.True(
            byFailureMode <= decisions.Count * ToleratedDeadlineMisses,
            $"{what}: {byFailureMode} of {decisions.Count} decisions were not answered by the store ({errors.GetValueOrDefault(nameof(TimeoutException))} timeouts).");
    }
}
