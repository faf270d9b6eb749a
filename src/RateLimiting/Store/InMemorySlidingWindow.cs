namespace RateLimiting.Store;

/// <summary>
/// One partition's windows: the admitted requests of the longest window, oldest first, and, per
/// window, where its counted requests begin and their total cost.
/// </summary>
internal sealed class InMemorySlidingWindow
{
    /// <summary>Compacts the list once this many leading entries have left every window.</summary>
    private const int CompactAfter = 64;

    private readonly List<Entry> _entries = [];
    private long[] _windowTicks = [];
    private int[] _first = [];
    private long[] _used = [];
    private long _lastAdmission;
    private bool _retired;

    /// <summary>Decides under the window's lock; false when the window was retired and must not be used.</summary>
    public bool TryDecide(long now, in RateLimitRequest request, out RateLimitDecision decision)
    {
        lock (_entries)
        {
            if (_retired)
            {
                decision = default;
                return false;
            }

            Follow(request.Limits, now);
            Trim(now);
            decision = Decide(now, request.Limits, request.Cost, request.Kind);
            return true;
        }
    }

    /// <summary>Takes an admission back; nothing when it has left the window, or the window was retired.</summary>
    public void Refund(long admission)
    {
        lock (_entries)
        {
            var at = _retired || _first.Length == 0 ? -1 : _entries.FindIndex(_first[^1], entry => entry.Admission == admission);
            if (at < 0)
            {
                return;
            }

            var cost = _entries[at].Cost;
            _entries.RemoveAt(at);
            for (var i = 0; i < _first.Length; i++)
            {
                if (at >= _first[i])
                {
                    _used[i] -= cost;
                }
                else
                {
                    _first[i]--;
                }
            }
        }
    }

    /// <summary>Retires the window when nothing in it still counts, so that it can be dropped.</summary>
    public bool TryRetireIfEmpty(long now)
    {
        lock (_entries)
        {
            Trim(now);
            _retired = _first.Length == 0 || _first[^1] == _entries.Count;
            return _retired;
        }
    }

    /// <summary>Counts afresh when the windows changed (a reload), from the entries still held.</summary>
    private void Follow(IReadOnlyList<RateLimitWindow> limits, long now)
    {
        if (IsFollowing(limits))
        {
            return;
        }

        var start = _first.Length == 0 ? 0 : _first[^1];
        _windowTicks = limits.Select(limit => limit.Window.Ticks).ToArray();
        _first = new int[limits.Count];
        _used = new long[limits.Count];
        for (var i = 0; i < limits.Count; i++)
        {
            var first = start;
            while (first < _entries.Count && _entries[first].Timestamp <= now - _windowTicks[i])
            {
                first++;
            }

            _first[i] = first;
            for (var j = first; j < _entries.Count; j++)
            {
                _used[i] += _entries[j].Cost;
            }
        }
    }

    private bool IsFollowing(IReadOnlyList<RateLimitWindow> limits)
    {
        if (_windowTicks.Length != limits.Count)
        {
            return false;
        }

        for (var i = 0; i < limits.Count; i++)
        {
            if (_windowTicks[i] != limits[i].Window.Ticks)
            {
                return false;
            }
        }

        return true;
    }

    private RateLimitDecision Decide(long now, IReadOnlyList<RateLimitWindow> limits, int cost, RateLimitRequestKind kind)
    {
        var fits = true;
        var smallest = 0;
        for (var i = 0; i < limits.Count; i++)
        {
            smallest = limits[i].PermitLimit < limits[smallest].PermitLimit ? i : smallest;
            fits &= _used[i] + cost <= limits[i].PermitLimit;
        }

        fits |= kind == RateLimitRequestKind.Charge;
        if (cost > limits[smallest].PermitLimit && kind != RateLimitRequestKind.Charge)
        {
            // The window whose limit the cost exceeds is the one to report: its limit says why.
            return Report(now, limits, RateLimitRejectReason.CostExceedsLimit, TimeSpan.Zero, admission: 0, window: smallest);
        }

        if (fits)
        {
            if (cost == 0 || kind == RateLimitRequestKind.Check)
            {
                return Report(now, limits, RateLimitRejectReason.None, TimeSpan.Zero, admission: 0);
            }

            _entries.Add(new Entry(now, cost, ++_lastAdmission));
            for (var i = 0; i < _used.Length; i++)
            {
                _used[i] += cost;
            }

            return Report(now, limits, RateLimitRejectReason.None, TimeSpan.Zero, _lastAdmission);
        }

        // Entries only leave, oldest first: each full window has room once enough of its oldest have left.
        var retryAfter = TimeSpan.Zero;
        for (var i = 0; i < limits.Count; i++)
        {
            var needed = _used[i] + cost - limits[i].PermitLimit;
            for (var j = _first[i]; needed > 0 && j < _entries.Count; j++)
            {
                needed -= _entries[j].Cost;
                if (needed <= 0)
                {
                    retryAfter = TimeSpan.FromTicks(Math.Max(retryAfter.Ticks, _entries[j].Timestamp + _windowTicks[i] - now));
                }
            }
        }

        return Report(now, limits, RateLimitRejectReason.QuotaExceeded, retryAfter, admission: 0);
    }

    /// <summary>The decision, reporting <paramref name="window"/>, else the window with the least remaining (the longer on a tie).</summary>
    private RateLimitDecision Report(long now, IReadOnlyList<RateLimitWindow> limits, RateLimitRejectReason reason, TimeSpan retryAfter, long admission, int? window = null)
    {
        var reported = 0;
        for (var i = 1; i < limits.Count; i++)
        {
            if (limits[i].PermitLimit - _used[i] <= limits[reported].PermitLimit - _used[reported])
            {
                reported = i;
            }
        }

        reported = window ?? reported;

        var first = _first[reported];
        var resetAfter = first < _entries.Count ? TimeSpan.FromTicks(_entries[first].Timestamp + _windowTicks[reported] - now) : TimeSpan.Zero;
        var limit = limits[reported].PermitLimit;
        return new RateLimitDecision(reason, limit, (int)Math.Max(0, limit - _used[reported]), retryAfter, resetAfter, reported, admission);
    }

    private void Trim(long now)
    {
        for (var i = 0; i < _first.Length; i++)
        {
            while (_first[i] < _entries.Count && _entries[_first[i]].Timestamp <= now - _windowTicks[i])
            {
                _used[i] -= _entries[_first[i]].Cost;
                _first[i]++;
            }
        }

        // The longest window's first entry is the first that any window counts.
        var gone = _first.Length == 0 ? 0 : _first[^1];
        if (gone >= CompactAfter && gone * 2 >= _entries.Count)
        {
            _entries.RemoveRange(0, gone);
            for (var i = 0; i < _first.Length; i++)
            {
                _first[i] -= gone;
            }
        }
    }

    private readonly record struct Entry(long Timestamp, int Cost, long Admission);
}
