using RateLimiting.Store;

namespace RateLimiting.Tests.Limiter;

/// <summary>A store that answers what the test says and counts its calls.</summary>
internal sealed class ScriptedStore : IRateLimitStore
{
    private int _calls;

    public Func<RateLimitRequest, RateLimitDecision> Answer { get; set; } = request
        => new RateLimitDecision(RateLimitRejectReason.None, request.Limits[0].PermitLimit, request.Limits[0].PermitLimit - request.Cost, TimeSpan.Zero, TimeSpan.Zero);

    public int Calls => Volatile.Read(ref _calls);

    /// <summary>Gets the admissions taken back, in order.</summary>
    public List<(RateLimitRequest Request, long Admission)> Refunds { get; } = [];

    /// <summary>Gets or sets what a refund throws; none when null.</summary>
    public Exception? RefundFailure { get; set; }

    public ValueTask<RateLimitDecision> DecideAsync(RateLimitRequest request, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _calls);
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Answer(request));
    }

    public ValueTask RefundAsync(RateLimitRequest request, long admission, CancellationToken cancellationToken)
    {
        if (RefundFailure is { } failure)
        {
            return ValueTask.FromException(failure);
        }

        lock (Refunds)
        {
            Refunds.Add((request, admission));
        }

        return ValueTask.CompletedTask;
    }

    public static RateLimitDecision Rejected(RateLimitRequest request, TimeSpan retryAfter)
        => new(RateLimitRejectReason.QuotaExceeded, request.Limits[0].PermitLimit, 0, retryAfter, retryAfter);
}
