using System.Collections.Concurrent;
using System.Diagnostics;
using RateLimiting.Store;

namespace RateLimiting.Limiter;

/// <summary>
/// Remembers, per partition, a rejection for exceeding the quota until its Retry-After, so that an
/// abusive client's further requests are rejected in this instance without a store call. Sound by
/// construction: entries only leave a window by expiring, oldest first, so no request costing at
/// least as much can fit before that time (the store's Retry-After is when every rejecting window
/// has room); and it never rejects beyond it, because the time is counted from before the store
/// was asked. Changed limits or windows drop the entry, and so does a refund in this instance, the
/// one way an entry leaves early besides a reset (a refund by another instance's chain can free room sooner, which
/// this instance then sees at the Retry-After at the latest). It remembers a block the same way:
/// a blocked partition is rejected, whatever the cost, until the block's end as the store told it.
/// </summary>
internal sealed class OverLimitCache
{
    /// <summary>Bounds memory under a flood of distinct partitions; expired entries go first.</summary>
    private const int MaxEntries = 100_000;

    private readonly ConcurrentDictionary<string, Entry> _entries = new(StringComparer.Ordinal);

    public bool TryReject(string partition, int cost, RateLimitWindow[] limits, out RateLimitDecision decision)
    {
        decision = default;
        if (!_entries.TryGetValue(partition, out var entry))
        {
            return false;
        }

        var now = Stopwatch.GetTimestamp();
        if (now >= entry.Until || !(ReferenceEquals(entry.Limits, limits) || entry.Limits.AsSpan().SequenceEqual(limits)))
        {
            _entries.TryRemove(KeyValuePair.Create(partition, entry));
            return false;
        }

        if (cost < entry.Cost)
        {
            return false;
        }

        var retryAfter = Stopwatch.GetElapsedTime(now, entry.Until);
        var reported = entry.Decision;
        decision = new RateLimitDecision(reported.Reason, reported.Limit, reported.Remaining, retryAfter, retryAfter, reported.WindowIndex) { TemporaryLimit = reported.TemporaryLimit };
        return true;
    }

    /// <param name="partition">The partition that was rejected.</param>
    /// <param name="cost">The cost that did not fit.</param>
    /// <param name="askedAt">The <see cref="Stopwatch"/> timestamp taken before the store was asked.</param>
    /// <param name="limits">The windows the decision was made with.</param>
    /// <param name="decision">The store's rejection.</param>
    public void Remember(string partition, int cost, long askedAt, RateLimitWindow[] limits, in RateLimitDecision decision)
    {
        if (_entries.Count >= MaxEntries)
        {
            Sweep();
        }

        var until = askedAt + (long)(decision.RetryAfter.TotalSeconds * Stopwatch.Frequency);
        _entries[partition] = new Entry(cost, until, limits, decision);
    }

    /// <summary>Drops the partition's entry: a refund took an admission back, so a request may fit before its Retry-After.</summary>
    public void Forget(string partition) => _entries.TryRemove(partition, out _);

    /// <summary>Drops every entry: a partition of the policy was reset, and which one is not known here.</summary>
    public void Clear() => _entries.Clear();

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

    private readonly record struct Entry(int Cost, long Until, RateLimitWindow[] Limits, RateLimitDecision Decision);
}
