using NodaTime;

namespace RateLimiting.Redis.Resilience;

/// <summary>
/// Decides when the faults seen by callers mean the multiplexer is stuck, and paces reconnects:
/// a minimum interval, doubled with jitter while the fault persists, reset once a fresh
/// multiplexer has worked: a call succeeded and the faults then paused for at least the interval
/// the reconnect was given. Successes alone do not reset it: during a fault that a reconnect cannot
/// cure, some calls still succeed (the healthy masters while one is unreachable, a lucky route
/// while connections are misrouted), and the reconnects must keep slowing down all the same.
/// Thread-safe; time is read from an <see cref="IClock"/>.
/// </summary>
internal sealed class FaultDetector
{
    private readonly RedisResilienceOptions _options;
    private readonly IClock _clock;
    private readonly object _gate = new();
    private readonly Queue<Instant> _movedLoops = new();
    private Instant? _episodeStart;
    private Instant? _lastFault;
    private Instant _nextReconnectAllowed = Instant.MinValue;
    private Instant? _lastCountedFault; // or the last reconnect, whichever came later
    private TimeSpan _lastInterval;
    private int _consecutiveReconnects;
    private bool _healthySinceReconnect = true;
    private bool _pausedSinceReconnect = true;

    public FaultDetector(RedisResilienceOptions options, IClock clock)
    {
        _options = options;
        _clock = clock;
    }

    /// <summary>Records a fault; returns the reason to reconnect now, or null.</summary>
    public string? RecordFault(RedisFaultKind kind)
    {
        if (kind == RedisFaultKind.None)
        {
            return null;
        }

        var now = _clock.GetCurrentInstant();
        lock (_gate)
        {
            if (_lastCountedFault is { } lastCounted && Elapsed(lastCounted, now) >= _lastInterval)
            {
                _pausedSinceReconnect = true;
            }

            _lastCountedFault = now;
            string? reason = null;
            if (kind == RedisFaultKind.MovedLoop)
            {
                _movedLoops.Enqueue(now);
                while (_movedLoops.Count > 0 && Elapsed(_movedLoops.Peek(), now) > _options.FaultWindow)
                {
                    _movedLoops.Dequeue();
                }

                if (_movedLoops.Count >= _options.MovedLoopThreshold)
                {
                    reason = ReconnectReason.MovedLoop;
                }
            }
            else
            {
                if (_lastFault is not { } lastFault || Elapsed(lastFault, now) > _options.PersistentFaultDuration)
                {
                    _episodeStart = now;
                }

                _lastFault = now;
                if (Elapsed(_episodeStart ?? now, now) >= _options.PersistentFaultDuration)
                {
                    reason = kind == RedisFaultKind.Timeout ? ReconnectReason.PersistentTimeouts : ReconnectReason.PersistentConnectionErrors;
                }
            }

            if (reason is null || now < _nextReconnectAllowed)
            {
                return null;
            }

            // A reconnect is due: pace the next one, and count afresh against the new multiplexer.
            _consecutiveReconnects = _healthySinceReconnect && _pausedSinceReconnect ? 0 : _consecutiveReconnects + 1;
            _healthySinceReconnect = false;
            _pausedSinceReconnect = false;
            _lastInterval = NextInterval();
            _nextReconnectAllowed = now + Duration.FromTimeSpan(_lastInterval);
            _movedLoops.Clear();
            _episodeStart = _lastFault = null;
            return reason;
        }
    }

    /// <summary>Records a successful call: a reconnect that led to one, and after which the faults paused, counts as having worked.</summary>
    public void RecordSuccess()
    {
        if (!Volatile.Read(ref _healthySinceReconnect))
        {
            lock (_gate)
            {
                _healthySinceReconnect = true;
            }
        }
    }

    private TimeSpan NextInterval()
    {
        var interval = _options.MinReconnectInterval * Math.Pow(2, Math.Min(_consecutiveReconnects, 16));
        if (interval > _options.MaxReconnectInterval)
        {
            interval = _options.MaxReconnectInterval;
        }

        // Up to +25 % jitter, so that many instances facing the same fault do not reconnect in step.
        return interval * (1 + (Random.Shared.NextDouble() / 4));
    }

    private static TimeSpan Elapsed(Instant from, Instant to) => (to - from).ToTimeSpan();
}
