namespace RateLimiting.Redis.Resilience;

/// <summary>
/// Decides when the faults seen by callers mean the multiplexer is stuck, and paces reconnects:
/// a minimum interval, doubled with jitter while the fault persists, reset once a fresh
/// multiplexer has worked: a call succeeded and the faults then paused for at least the interval
/// the reconnect was given. Successes alone do not reset it: during a fault that a reconnect cannot
/// cure, some calls still succeed (the healthy masters while one is unreachable, a lucky route
/// while connections are misrouted), and the reconnects must keep slowing down all the same.
/// Thread-safe; time is read from a <see cref="TimeProvider"/>.
/// </summary>
internal sealed class FaultDetector
{
    private readonly RedisResilienceOptions _options;
    private readonly TimeProvider _time;
    private readonly object _gate = new();
    private readonly Queue<long> _movedLoops = new();
    private long _episodeStart = -1;
    private long _lastFault = -1;
    private long _nextReconnectAllowed = long.MinValue;
    private long _lastCountedFault = -1; // or the last reconnect, whichever came later
    private TimeSpan _lastInterval;
    private int _consecutiveReconnects;
    private bool _healthySinceReconnect = true;
    private bool _pausedSinceReconnect = true;

    public FaultDetector(RedisResilienceOptions options, TimeProvider time)
    {
        _options = options;
        _time = time;
    }

    /// <summary>Records a fault; returns the reason to reconnect now, or null.</summary>
    public string? RecordFault(RedisFaultKind kind)
    {
        if (kind == RedisFaultKind.None)
        {
            return null;
        }

        var now = _time.GetTimestamp();
        lock (_gate)
        {
            if (_lastCountedFault >= 0 && Elapsed(_lastCountedFault, now) >= _lastInterval)
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
                    reason = "moved_loop";
                }
            }
            else
            {
                if (_lastFault < 0 || Elapsed(_lastFault, now) > _options.PersistentFaultDuration)
                {
                    _episodeStart = now;
                }

                _lastFault = now;
                if (Elapsed(_episodeStart, now) >= _options.PersistentFaultDuration)
                {
                    reason = kind == RedisFaultKind.Timeout ? "persistent_timeouts" : "persistent_connection_errors";
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
            _nextReconnectAllowed = now + ToTimestamp(_lastInterval);
            _movedLoops.Clear();
            _episodeStart = _lastFault = -1;
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

    private TimeSpan Elapsed(long from, long to) => _time.GetElapsedTime(from, to);

    private long ToTimestamp(TimeSpan span) => (long)(span.TotalSeconds * _time.TimestampFrequency);
}
