namespace RateLimiting.Store;

/// <summary>The outcome of <see cref="IRateLimitStore.DecideAsync"/>.</summary>
public readonly record struct RateLimitDecision
{
    /// <summary>Creates a decision.</summary>
    /// <param name="reason">Why the request was rejected, or <see cref="RateLimitRejectReason.None"/> when it was allowed.</param>
    /// <param name="limit">The permit limit the decision was made against.</param>
    /// <param name="remaining">The cost still available in the window after this decision.</param>
    /// <param name="retryAfter">When rejected for <see cref="RateLimitRejectReason.QuotaExceeded"/>: the time until this request's cost fits.</param>
    /// <param name="resetAfter">The time until the oldest counted request leaves the window, that is until <paramref name="remaining"/> next grows; zero when the window is empty.</param>
    public RateLimitDecision(RateLimitRejectReason reason, int limit, int remaining, TimeSpan retryAfter, TimeSpan resetAfter)
    {
        Reason = reason;
        Limit = limit;
        Remaining = remaining;
        RetryAfter = retryAfter;
        ResetAfter = resetAfter;
    }

    /// <summary>Gets a value indicating whether the request was admitted and recorded.</summary>
    public bool IsAllowed => Reason == RateLimitRejectReason.None;

    /// <summary>Gets why the request was rejected, or <see cref="RateLimitRejectReason.None"/>.</summary>
    public RateLimitRejectReason Reason { get; }

    /// <summary>Gets the permit limit the decision was made against.</summary>
    public int Limit { get; }

    /// <summary>Gets the cost still available in the window after this decision.</summary>
    public int Remaining { get; }

    /// <summary>Gets the time until this request's cost fits; <see cref="TimeSpan.Zero"/> unless rejected for <see cref="RateLimitRejectReason.QuotaExceeded"/>.</summary>
    public TimeSpan RetryAfter { get; }

    /// <summary>Gets the time until the oldest counted request leaves the window; zero when the window is empty.</summary>
    public TimeSpan ResetAfter { get; }
}
