using RateLimiting.Limiter;

namespace RateLimiting.Redis.Tests.Infrastructure;

/// <summary>One decision of a <see cref="DecisionLoad"/>: who answered, how long it took, and when it started.</summary>
/// <param name="Partition">The partition decided.</param>
/// <param name="Source">Who answered; <see langword="null"/> when the decider threw.</param>
/// <param name="Acquired">Whether the lease was acquired.</param>
/// <param name="StartedAt">A <see cref="System.Diagnostics.Stopwatch"/> timestamp.</param>
/// <param name="Latency">How long the decision took.</param>
/// <param name="Error">What the decider threw, if it did (it should never).</param>
internal readonly record struct DecisionRecord(string Partition, RateLimitDecisionSource? Source, bool Acquired, long StartedAt, TimeSpan Latency, Exception? Error)
{
    public bool ByStore => Source == RateLimitDecisionSource.Store;

    public bool ByFailureMode => Source is { } source && source != RateLimitDecisionSource.Store;

    public bool Threw => Error is not null;

    /// <summary>Gets when the decision was answered, a <see cref="System.Diagnostics.Stopwatch"/> timestamp.</summary>
    public long EndedAt => StartedAt + (long)(Latency.TotalSeconds * System.Diagnostics.Stopwatch.Frequency);
}
