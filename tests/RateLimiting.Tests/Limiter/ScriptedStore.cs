using RateLimiting.Store;

namespace RateLimiting.Tests.Limiter;

/// <summary>A store that answers what the test says and counts its calls.</summary>
internal sealed class ScriptedStore : IRateLimitStore
{
    private int _calls;

    public Func<RateLimitRequest, RateLimitDecision> Answer { get; set; } = request
        => new RateLimitDecision(RateLimitRejectReason.None, request.PermitLimit, request.PermitLimit - request.Cost, TimeSpan.Zero, TimeSpan.Zero);

    public int Calls => Volatile.Read(ref _calls);

    public ValueTask<RateLimitDecision> DecideAsync(RateLimitRequest request, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _calls);
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(Answer(request));
    }

    public static RateLimitDecision Rejected(RateLimitRequest request, TimeSpan retryAfter)
        => new(RateLimitRejectReason.QuotaExceeded, request.PermitLimit, 0, retryAfter, retryAfter);
}
