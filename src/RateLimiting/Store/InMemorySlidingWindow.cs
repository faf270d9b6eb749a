namespace RateLimiting.Store;

/// <summary>One partition's window: the admitted requests, oldest first, and their total cost.</summary>
internal sealed class InMemorySlidingWindow
{
    private readonly Queue<(long Timestamp, int Cost)> _entries = new();
    private long _used;
    private long _windowTicks;
    private bool _retired;

    /// <summary>Decides under the window's lock; false when the window was retired and must not be used.</summary>
    public bool TryDecide(long now, in RateLimitRequest request, out RateLimitDecision decision)
    {
        var windowTicks = request.Window.Ticks;
        lock (_entries)
        {
            if (_retired)
            {
                decision = default;
                return false;
            }

            _windowTicks = windowTicks;
            Trim(now - windowTicks);
            decision = Decide(now, windowTicks, request.PermitLimit, request.Cost);
            return true;
        }
    }

    /// <summary>Retires the window when nothing in it still counts, so that it can be dropped.</summary>
    public bool TryRetireIfEmpty(long now)
    {
        lock (_entries)
        {
            Trim(now - _windowTicks);
            _retired = _entries.Count == 0;
            return _retired;
        }
    }

    private RateLimitDecision Decide(long now, long windowTicks, int limit, int cost)
    {
        var remaining = (int)Math.Max(0, limit - _used);
        if (cost > limit)
        {
            return new RateLimitDecision(RateLimitRejectReason.CostExceedsLimit, limit, remaining, TimeSpan.Zero, ResetAfter(now, windowTicks));
        }

        if (_used + cost <= limit)
        {
            if (cost > 0)
            {
                _entries.Enqueue((now, cost));
                _used += cost;
            }

            return new RateLimitDecision(RateLimitRejectReason.None, limit, (int)(limit - _used), TimeSpan.Zero, ResetAfter(now, windowTicks));
        }

        // The oldest entries leave first: wait for the one whose departure frees enough.
        var needed = _used + cost - limit;
        var retryAfter = TimeSpan.Zero;
        foreach (var (timestamp, entryCost) in _entries)
        {
            needed -= entryCost;
            if (needed <= 0)
            {
                retryAfter = TimeSpan.FromTicks(timestamp + windowTicks - now);
                break;
            }
        }

        return new RateLimitDecision(RateLimitRejectReason.QuotaExceeded, limit, remaining, retryAfter, ResetAfter(now, windowTicks));
    }

    private TimeSpan ResetAfter(long now, long windowTicks)
        => _entries.TryPeek(out var oldest) ? TimeSpan.FromTicks(oldest.Timestamp + windowTicks - now) : TimeSpan.Zero;

    private void Trim(long expiredAtOrBefore)
    {
        while (_entries.TryPeek(out var oldest) && oldest.Timestamp <= expiredAtOrBefore)
        {
            _entries.Dequeue();
            _used -= oldest.Cost;
        }
    }
}
