using System.Collections.Concurrent;
using System.Diagnostics;
using RateLimiting.Store;

namespace RateLimiting.Limiter;

/// <summary>
/// Remembers, per partition, a rejection for exceeding the quota until its Retry-After, so that an
/// abusive client's further requests are rejected in this instance without a store call. Sound by
/// construction: entries only leave a window by expiring, oldest first, so no request costing at
/// least as much can fit before that time; and it never rejects beyond it, because the time is
/// counted from before the store was asked. A changed limit or window drops the entry.
/// </summary>
internal sealed class OverLimitCache
{
    /// <summary>Bounds memory under a flood of distinct partitions; expired entries go first.</summary>
    private const int MaxEntries = 100_000;

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    public bool TryReject(string partition, int cost, int limit, TimeSpan window, out RateLimitDecision decision)
    {
        decision = default;
        if (!_entries.TryGetValue(partition, out var entry))
        {
            return false;
        }

        var now = Stopwatch.GetTimestamp();
        if (now >= entry.Until || entry.Limit != limit || entry.Window != window)
        {
            _entries.TryRemove(KeyValuePair.Create(partition, entry));
            return false;
        }

        if (cost < entry.Cost)
        {
            return false;
        }

        var retryAfter = Stopwatch.GetElapsedTime(now, entry.Until);
        decision = new RateLimitDecision(RateLimitRejectReason.QuotaExceeded, limit, entry.Remaining, retryAfter, retryAfter);
        return true;
    }

    /// <param name="partition">The partition that was rejected.</param>
    /// <param name="cost">The cost that did not fit.</param>
    /// <param name="askedAt">The <see cref="Stopwatch"/> timestamp taken before the store was asked.</param>
    /// <param name="window">The window the decision was made with.</param>
    /// <param name="decision">The store's rejection.</param>
    public void Remember(string partition, int cost, long askedAt, TimeSpan window, in RateLimitDecision decision)
    {
        if (_entries.Count >= MaxEntries)
        {
            Sweep();
        }

        var until = askedAt + (long)(decision.RetryAfter.TotalSeconds * Stopwatch.Frequency);
        _entries[partition] = new Entry(cost, until, decision.Limit, window, decision.Remaining);
    }

    private void Sweep()
    {
        var now = Stopwatch.GetTimestamp();
        foreach (var (partition, entry) in _entries)
        {
            if (now >= entry.Until)
            {
                _entries.TryRemove(KeyValuePair.Create(partition, entry));
            }
        }

        if (_entries.Count >= MaxEntries)
        {
            // Still full of live entries: forget them all rather than grow; the store stays exact.
            _entries.Clear();
        }
    }

    private readonly record struct Entry(int Cost, long Until, int Limit, TimeSpan Window, int Remaining);
}
