using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Threading.RateLimiting;

namespace RateLimiting.Limiter;

/// <summary>
/// The <see cref="RateLimiter"/> of one (policy, partition, cost): all state lives in the store, so an
/// instance is cheap and may be dropped when idle. <c>AttemptAcquire</c> cannot decide without I/O
/// and returns a failed lease, which makes ASP.NET Core's middleware go on to <c>AcquireAsync</c>.
/// </summary>
internal sealed class StoreRateLimiter : RateLimiter
{
    private readonly PolicyDecider _decider;
    private readonly string _partition;
    private readonly int _cost;
    private readonly Action<DecisionLease>? _onDecided;
    private long _lastActivity = Stopwatch.GetTimestamp();
    private int _inFlight;
    private long _successfulLeases;
    private long _failedLeases;
    private int _lastRemaining;

    // onDecided sees every lease before it is returned: the HTTP layer writes headers from it.
    public StoreRateLimiter(PolicyDecider decider, string partition, int cost, Action<DecisionLease>? onDecided = null)
    {
        _decider = decider;
        _partition = partition;
        _cost = cost;
        _onDecided = onDecided;
    }

    public override TimeSpan? IdleDuration
        => Volatile.Read(ref _inFlight) > 0 ? null : Stopwatch.GetElapsedTime(Volatile.Read(ref _lastActivity));

    public override RateLimiterStatistics? GetStatistics() => new()
    {
        CurrentAvailablePermits = Volatile.Read(ref _lastRemaining),
        CurrentQueuedCount = 0,
        TotalSuccessfulLeases = Interlocked.Read(ref _successfulLeases),
        TotalFailedLeases = Interlocked.Read(ref _failedLeases),
    };

    protected override RateLimitLease AttemptAcquireCore(int permitCount) => DecisionLease.Undecided;

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    protected override async ValueTask<RateLimitLease> AcquireAsyncCore(int permitCount, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _inFlight);
        try
        {
            var lease = await _decider.DecideAsync(_partition, checked(permitCount * _cost), cancellationToken).ConfigureAwait(false);
            Volatile.Write(ref _lastRemaining, lease.Decision.Remaining);
            Interlocked.Increment(ref lease.IsAcquired ? ref _successfulLeases : ref _failedLeases);
            _onDecided?.Invoke(lease);
            return lease;
        }
        finally
        {
            Volatile.Write(ref _lastActivity, Stopwatch.GetTimestamp());
            Interlocked.Decrement(ref _inFlight);
        }
    }
}
