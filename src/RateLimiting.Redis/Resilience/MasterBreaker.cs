using System.Net;
using NodaTime;

namespace RateLimiting.Redis.Resilience;

/// <summary>
/// The circuit breaker of one master (or of "no connection at all"): opened by
/// <see cref="RedisResilienceOptions.BreakerFailureThreshold"/> failed decisions in a row, sent over
/// at least <see cref="RedisResilienceOptions.BreakerFailureSpan"/> (the calls in flight when one
/// connection drops fail together, and the client reconnects it at once), closed by the first probe
/// that is answered. A breaker that opens again within
/// <see cref="RedisResilienceOptions.BreakerMaxProbeInterval"/> of closing waits twice as long
/// before its first probe, so that a flapping master opens it a bounded number of times rather
/// than once per failed request. Thread-safe; the closed path reads one field.
/// </summary>
internal sealed class MasterBreaker
{
    private readonly RedisResilienceOptions _options;
    private readonly IClock _clock;
    private readonly object _gate = new();
    private int _open;
    private int _consecutiveFailures;
    private Instant _firstFailedStart;
    private Instant _lastFailedStart;
    private Instant _openedAt;
    private Instant? _closedAt;
    private int _reopenings;
    private long _openings;

    public MasterBreaker(string name, EndPoint? endpoint, RedisResilienceOptions options, IClock clock)
    {
        Name = name;
        EndPoint = endpoint;
        _options = options;
        _clock = clock;
    }

    /// <summary>Gets the master's endpoint as text, or <see cref="MasterBreakers.NoConnectionName"/>.</summary>
    public string Name { get; }

    /// <summary>Gets the master's endpoint; null for <see cref="MasterBreakers.NoConnectionName"/>.</summary>
    public EndPoint? EndPoint { get; }

    public bool IsOpen => Volatile.Read(ref _open) != 0;

    /// <summary>Gets the cause named when it last opened (<c>timeouts</c>, <c>authentication</c>, ...).</summary>
    public string Cause { get; private set; } = "";

    /// <summary>Gets what a decision refused while it is open is told.</summary>
    public string OpenMessage { get; private set; } = "";

    public long Openings => Interlocked.Read(ref _openings);

    /// <summary>Gets a value indicating whether it opened again soon after it closed: its first probe waits longer, and nothing hastens it.</summary>
    public bool IsFlapping => Volatile.Read(ref _reopenings) > 0;

    public void RecordSuccess()
    {
        if (Volatile.Read(ref _consecutiveFailures) != 0)
        {
            Volatile.Write(ref _consecutiveFailures, 0);
        }
    }

    /// <summary>Records a failed decision sent at <paramref name="startedAt"/>; true when it opened the breaker (the caller then starts probing).</summary>
    public bool RecordFailure(Instant startedAt, Func<string> cause)
    {
        if (IsOpen)
        {
            return false;
        }

        lock (_gate)
        {
            if (IsOpen)
            {
                return false;
            }

            if (_consecutiveFailures++ == 0)
            {
                _firstFailedStart = _lastFailedStart = startedAt;
            }
            else
            {
                _firstFailedStart = Instant.Min(_firstFailedStart, startedAt);
                _lastFailedStart = Instant.Max(_lastFailedStart, startedAt);
            }

            if (_consecutiveFailures < _options.BreakerFailureThreshold
                || (_lastFailedStart - _firstFailedStart).ToTimeSpan() < _options.BreakerFailureSpan)
            {
                return false;
            }

            var now = _clock.GetCurrentInstant();
            _reopenings = _closedAt is { } closedAt && (now - closedAt).ToTimeSpan() < _options.BreakerMaxProbeInterval ? _reopenings + 1 : 0;
            _openedAt = now;
            Cause = cause();
            OpenMessage = $"Redis {Name} is failing ({Cause}); its circuit breaker is open.";
            Interlocked.Increment(ref _openings);
            Volatile.Write(ref _open, 1);
            return true;
        }
    }

    /// <summary>The wait before the first probe of this opening: doubled for each quick reopening, jittered.</summary>
    public TimeSpan FirstProbeDelay()
    {
        var doubled = _options.BreakerProbeInterval * Math.Pow(2, Math.Min(Volatile.Read(ref _reopenings), 20));
        return Jittered(doubled < _options.BreakerMaxProbeInterval ? doubled : _options.BreakerMaxProbeInterval);
    }

    public TimeSpan NextProbeDelay() => Jittered(_options.BreakerProbeInterval);

    /// <summary>Closes the breaker; returns how long it was open.</summary>
    public TimeSpan Close()
    {
        lock (_gate)
        {
            var now = _clock.GetCurrentInstant();
            _closedAt = now;
            Volatile.Write(ref _consecutiveFailures, 0);
            Volatile.Write(ref _open, 0);
            return (now - _openedAt).ToTimeSpan();
        }
    }

    // Up to +50 %: instances facing the same outage do not probe in step.
    private static TimeSpan Jittered(TimeSpan delay) => delay * (1 + (Random.Shared.NextDouble() / 2));
}
