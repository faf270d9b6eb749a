using NodaTime;
using RateLimiting.Redis.Resilience;

namespace RateLimiting.Redis.Health;

/// <summary>
/// How Redis calls have been going, recorded by the call path and read by both the health check
/// and the failure-mode gauge: whether calls fail and since when, and which breakers are open.
/// </summary>
internal sealed class ConnectionHealth
{
    private readonly IClock _clock;
    private readonly MasterBreakers _breakers;

    // Unix ticks of the clock; 0 before the first.
    private long _lastSuccess;
    private long _lastFailure;
    private long _failingSince;

    public ConnectionHealth(IClock clock, MasterBreakers breakers)
    {
        _clock = clock;
        _breakers = breakers;
    }

    /// <summary>Gets how long calls have been failing without a success in between; null while the last call succeeded (or none was made).</summary>
    public TimeSpan? FailingFor => Volatile.Read(ref _lastFailure) > Volatile.Read(ref _lastSuccess)
        ? Since(Volatile.Read(ref _failingSince))
        : null;

    /// <summary>Gets the time since the last call, successful or not; null when none was made.</summary>
    public TimeSpan? SinceLastCall => Math.Max(Volatile.Read(ref _lastSuccess), Volatile.Read(ref _lastFailure)) is var last and > 0
        ? Since(last)
        : null;

    /// <summary>Gets the names of the open circuit breakers.</summary>
    public IReadOnlyList<string> OpenBreakers => _breakers.OpenNames;

    public int OpenBreakerCount => _breakers.OpenCount;

    /// <summary>Gets a value indicating whether failure modes answer: the last call failed, or a breaker is open.</summary>
    public bool IsFailureModeActive => FailingFor is not null || _breakers.OpenCount > 0;

    public void RecordSuccess() => Volatile.Write(ref _lastSuccess, Now());

    public void RecordFailure()
    {
        var now = Now();
        if (Volatile.Read(ref _lastFailure) <= Volatile.Read(ref _lastSuccess))
        {
            Volatile.Write(ref _failingSince, now);
        }

        Volatile.Write(ref _lastFailure, now);
    }

    private long Now() => _clock.GetCurrentInstant().ToUnixTimeTicks();

    private TimeSpan Since(long ticks) => TimeSpan.FromTicks(Now() - ticks);
}
