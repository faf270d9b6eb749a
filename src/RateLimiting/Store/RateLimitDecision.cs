namespace RateLimiting.Store;

/// <summary>The outcome of <see cref="IRateLimitStore.DecideAsync"/>.</summary>
public readonly record struct RateLimitDecision
{
    /// <summary>Creates a decision.</summary>
    /// <param name="reason">Why the request was rejected, or <see cref="RateLimitRejectReason.None"/> when it was allowed.</param>
    /// <param name="limit">The permit limit of the window this decision reports.</param>
    /// <param name="remaining">The cost still available in that window after this decision.</param>
    /// <param name="retryAfter">When rejected for <see cref="RateLimitRejectReason.QuotaExceeded"/>: the time until this request's cost fits in every window.</param>
    /// <param name="resetAfter">The time until the oldest request counted in that window leaves it, that is until <paramref name="remaining"/> next grows; zero when the window is empty.</param>
    /// <param name="windowIndex">The index, in the request's <see cref="RateLimitRequest.Limits"/>, of the window this decision reports: the one with the least remaining, the longer on a tie.</param>
    /// <param name="admission">Identifies the recorded request within its partition, for <see cref="IRateLimitStore.RefundAsync"/>; 0 when nothing was recorded.</param>
    public RateLimitDecision(RateLimitRejectReason reason, int limit, int remaining, TimeSpan retryAfter, TimeSpan resetAfter, int windowIndex = 0, long admission = 0)
    {
        Reason = reason;
        Limit = limit;
        Remaining = remaining;
        RetryAfter = retryAfter;
        ResetAfter = resetAfter;
        WindowIndex = windowIndex;
        Admission = admission;
    }

    /// <summary>Gets a value indicating whether the request was admitted and recorded.</summary>
    public bool IsAllowed => Reason == RateLimitRejectReason.None;

    /// <summary>Gets why the request was rejected, or <see cref="RateLimitRejectReason.None"/>.</summary>
    public RateLimitRejectReason Reason { get; }

    /// <summary>Gets the permit limit of the reported window.</summary>
    public int Limit { get; }

    /// <summary>Gets the cost still available in the reported window after this decision.</summary>
    public int Remaining { get; }

    /// <summary>Gets the time until this request's cost fits in every window; <see cref="TimeSpan.Zero"/> unless rejected for <see cref="RateLimitRejectReason.QuotaExceeded"/>.</summary>
    public TimeSpan RetryAfter { get; }

    /// <summary>Gets the time until the oldest request counted in the reported window leaves it; zero when the window is empty.</summary>
    public TimeSpan ResetAfter { get; }

    /// <summary>Gets the index, in the request's windows, of the window that <see cref="Limit"/>, <see cref="Remaining"/> and <see cref="ResetAfter"/> describe: the one with the least remaining.</summary>
    public int WindowIndex { get; }

    /// <summary>Gets what identifies the recorded request within its partition, for <see cref="IRateLimitStore.RefundAsync"/>; 0 when nothing was recorded.</summary>
    public long Admission { get; }

    /// <summary>Gets the temporary limit that replaced the longest window's (<c>IRateLimitAdmin.SetOverrideAsync</c>); 0 when none did.</summary>
    internal int TemporaryLimit { get; init; }
}
