namespace RateLimiting.Benchmarks.Http;

/// <summary>Admissions counted by <see cref="DecisionSourceCounter"/>: decided by the store, or admitted by the failure mode.</summary>
internal readonly record struct DecisionSourceCounts(long Store, long FailOpen)
{
    public static DecisionSourceCounts operator -(DecisionSourceCounts after, DecisionSourceCounts before)
        => new(after.Store - before.Store, after.FailOpen - before.FailOpen);
}
