using System.Collections.Concurrent;
using System.Diagnostics;
using RateLimiting.Store;
using StackExchange.Redis;

namespace RateLimiting.Redis.Tests.Infrastructure;

/// <summary>
/// Passes decisions on to a store and counts what it throws, by kind (<c>MOVED</c>,
/// <c>TimeoutException</c>, ...) with the first and last time each was seen, so a scenario can
/// report the store's errors apart from the failure mode that answered them.
/// </summary>
internal sealed class CountingStore : IRateLimitStore
{
    private const int MaxSamples = 5;
    private const int MaxLogged = 100_000;

    private readonly IRateLimitStore _inner;
    private readonly ConcurrentDictionary<string, ErrorKind> _errorsByKind = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<(long Started, long At, string Partition, string Kind, string Message)> _log = new();
    private long _calls;
    private long _errors;

    public CountingStore(IRateLimitStore inner) => _inner = inner;

    public long Calls => Interlocked.Read(ref _calls);

    public long Errors => Interlocked.Read(ref _errors);

    /// <summary>The first few errors, type and message, for a failure message.</summary>
    public IReadOnlyList<string> Samples => [.. _log.Take(MaxSamples).Select(error => $"{error.Kind}: {error.Message}")];

    /// <summary>Every error (up to a bound): when its decision started and when it failed (Stopwatch timestamps), on which partition, its kind and message.</summary>
    public IReadOnlyList<(long Started, long At, string Partition, string Kind, string Message)> Log => [.. _log];

    /// <summary>Errors by kind with when they were seen, e.g. <c>MOVED:12@105..230ms</c>, times since <paramref name="since"/> (a Stopwatch timestamp).</summary>
    public string ErrorSummary(long since) => _errorsByKind.IsEmpty
        ? "none"
        : string.Join(',', _errorsByKind
            .OrderBy(pair => pair.Key, StringComparer.Ordinal)
            .Select(pair => $"{pair.Key}:{pair.Value.Count}@{Offset(since, pair.Value.First)}..{Offset(since, pair.Value.Last)}ms"));

    /// <summary>The errors of decisions on the partitions <paramref name="on"/> selects that started between two Stopwatch timestamps, by kind.</summary>
    public IReadOnlyDictionary<string, int> ErrorsBetween(long from, long to, Func<string, bool> on)
        => _log.Where(error => error.Started >= from && error.Started <= to && on(error.Partition))
            .GroupBy(error => error.Kind, StringComparer.Ordinal)
            .ToDictionary(group => group.Key, group => group.Count(), StringComparer.Ordinal);

    /// <summary>Forgets what was counted so far, e.g. the warm-up's errors (the first decision connects).</summary>
    public void Reset()
    {
        _errorsByKind.Clear();
        _log.Clear();
        Interlocked.Exchange(ref _calls, 0);
        Interlocked.Exchange(ref _errors, 0);
    }

    public async ValueTask<RateLimitDecision> DecideAsync(RateLimitRequest request, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _calls);
        var started = Stopwatch.GetTimestamp();
        try
        {
            return await _inner.DecideAsync(request, cancellationToken);
        }
        catch (Exception ex)
        {
            var at = Stopwatch.GetTimestamp();
            var kind = KindOf(ex);
            if (Interlocked.Increment(ref _errors) <= MaxLogged)
            {
                _log.Enqueue((started, at, request.Partition, kind, ex.Message));
            }

            _errorsByKind.GetOrAdd(kind, static _ => new ErrorKind()).Record(at);
            throw;
        }
    }

    public ValueTask RefundAsync(RateLimitRequest request, long admission, CancellationToken cancellationToken)
        => _inner.RefundAsync(request, admission, cancellationToken);

    private static long Offset(long since, long at) => ScenarioFigures.Milliseconds(Stopwatch.GetElapsedTime(since, at));

    // A server error by its first word (MOVED, TRYAGAIN, CLUSTERDOWN); anything else by its type.
    private static string KindOf(Exception exception) => exception is RedisServerException server
        ? server.Message.Split(' ', 2)[0]
        : exception.GetType().Name;

    private sealed class ErrorKind
    {
        private long _count;
        private long _first = long.MaxValue;
        private long _last = long.MinValue;

        public long Count => Interlocked.Read(ref _count);

        public long First => Interlocked.Read(ref _first);

        public long Last => Interlocked.Read(ref _last);

        public void Record(long at)
        {
            Interlocked.Increment(ref _count);
            InterlockedMin(ref _first, at);
            InterlockedMax(ref _last, at);
        }

        private static void InterlockedMin(ref long target, long value)
        {
            for (var current = Interlocked.Read(ref target); value < current; current = Interlocked.Read(ref target))
            {
                if (Interlocked.CompareExchange(ref target, value, current) == current)
                {
                    return;
                }
            }
        }

        private static void InterlockedMax(ref long target, long value)
        {
            for (var current = Interlocked.Read(ref target); value > current; current = Interlocked.Read(ref target))
            {
                if (Interlocked.CompareExchange(ref target, value, current) == current)
                {
                    return;
                }
            }
        }
    }
}
