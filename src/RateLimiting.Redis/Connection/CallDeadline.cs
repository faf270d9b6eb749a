using NodaTime;

namespace RateLimiting.Redis.Connection;

/// <summary>
/// Bounds each step of a call by what is left of its <see cref="Store.RedisStoreOptions.OperationTimeout"/>:
/// StackExchange.Redis 2.x times sent async commands out only at its 1 s heartbeat, and backlogged
/// ones against SyncTimeout, neither of which is a decision's deadline.
/// </summary>
internal sealed class CallDeadline
{
    private readonly TimeSpan _timeout;
    private readonly IClock _clock;
    private readonly Action<Exception> _lateFailure;

    /// <param name="timeout">The deadline of one call, from its start.</param>
    /// <param name="clock">The clock calls are started and timed with.</param>
    /// <param name="lateFailure">Told how a call failed after we stopped waiting for it.</param>
    public CallDeadline(TimeSpan timeout, IClock clock, Action<Exception> lateFailure)
    {
        _timeout = timeout;
        _clock = clock;
        _lateFailure = lateFailure;
    }

    public Instant Start() => _clock.GetCurrentInstant();

    public TimeSpan Left(Instant started) => _timeout - (_clock.GetCurrentInstant() - started).ToTimeSpan();

    /// <summary>Waits for <paramref name="call"/> until the deadline of the call started at <paramref name="started"/>.</summary>
    public async Task<T> BoundAsync<T>(Task<T> call, Instant started, CancellationToken cancellationToken)
    {
        var left = Left(started);
        if (left <= TimeSpan.Zero)
        {
            ObserveAbandoned(call);
            throw new TimeoutException("The Redis call missed its deadline.");
        }

        try
        {
            return await call.WaitAsync(left, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            ObserveAbandoned(call);
            throw;
        }
    }

    /// <summary>
    /// A call we stopped waiting for may still fail, later, saying why: a command the client kept in
    /// its backlog while it could not connect fails with the connection's last error (a refused
    /// password, a closed handshake), which the diagnostics name.
    /// </summary>
    private void ObserveAbandoned(Task call)
        => call.ContinueWith(
            static (t, lateFailure) => ((Action<Exception>)lateFailure!)(t.Exception!.InnerException ?? t.Exception),
            _lateFailure,
            CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);
}
