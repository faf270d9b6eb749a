using System.Collections.Concurrent;
using NodaTime;
using RateLimiting.Time;

namespace RateLimiting.Store;

/// <summary>
/// An <see cref="IRateLimitStore"/> that keeps its windows in this process, with the same
/// semantics as the distributed stores. Used by tests, by single-instance applications and as the
/// local fallback while a distributed store is unavailable.
/// </summary>
public sealed class InMemoryRateLimitStore : IRateLimitStore, IDisposable
{
    private static readonly TimeSpan SweepInterval = TimeSpan.FromSeconds(30);

    private readonly ConcurrentDictionary<(string Policy, string Partition), InMemorySlidingWindow> _windows = new();
    private readonly IClock _clock;
    private readonly Timer _sweeper;

    /// <summary>Creates a store measuring time with a monotonic clock.</summary>
    public InMemoryRateLimitStore()
        : this(MonotonicClock.Instance)
    {
    }

    /// <summary>Creates a store measuring time with <paramref name="clock"/>.</summary>
    /// <param name="clock">The clock; tests inject a fake one.</param>
    public InMemoryRateLimitStore(IClock clock)
    {
        ArgumentNullException.ThrowIfNull(clock);
        _clock = clock;
        _sweeper = new Timer(static state => ((InMemoryRateLimitStore)state!).Sweep(), this, SweepInterval, SweepInterval);
    }

    /// <inheritdoc />
    public ValueTask<RateLimitDecision> DecideAsync(RateLimitRequest request, CancellationToken cancellationToken)
    {
        request.Validate();
        cancellationToken.ThrowIfCancellationRequested();
        return ValueTask.FromResult(DecideCore(request));
    }

    /// <inheritdoc />
    public ValueTask RefundAsync(RateLimitRequest request, long admission, CancellationToken cancellationToken)
    {
        request.Validate();
        cancellationToken.ThrowIfCancellationRequested();
        if (_windows.TryGetValue((request.Policy, request.Partition), out var window))
        {
            window.Refund(admission);
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public void Dispose() => _sweeper.Dispose();

    private RateLimitDecision DecideCore(in RateLimitRequest request)
    {
        var key = (request.Policy, request.Partition);
        while (true)
        {
            var window = _windows.GetOrAdd(key, static _ => new InMemorySlidingWindow());
            var now = _clock.GetCurrentInstant().ToUnixTimeTicks();
            if (window.TryDecide(now, request, out var decision))
            {
                return decision;
            }

            // The sweeper retired this window between the lookup and the lock: take the new one.
            _windows.TryRemove(new KeyValuePair<(string, string), InMemorySlidingWindow>(key, window));
        }
    }

    private void Sweep()
    {
        var now = _clock.GetCurrentInstant().ToUnixTimeTicks();
        foreach (var (key, window) in _windows)
        {
            if (window.TryRetireIfEmpty(now))
            {
                _windows.TryRemove(new KeyValuePair<(string, string), InMemorySlidingWindow>(key, window));
            }
        }
    }
}
