using RateLimiting.Benchmarks.Infrastructure;

namespace RateLimiting.Benchmarks.Store;

/// <summary>One line of measurement (a): a client setup measured at several concurrency levels.</summary>
internal sealed class ThroughputSeries
{
    private readonly Func<int, long, Task<LoadResult>> _run;

    public ThroughputSeries(string name, string shape, bool isOurs, bool isBaseline, Func<int, long, Task<LoadResult>> run)
    {
        Name = name;
        Shape = shape;
        IsOurs = isOurs;
        IsBaseline = isBaseline;
        _run = run;
    }

    public string Name { get; }

    /// <summary>Gets how concurrency level L maps to connections and pipelining, for the note.</summary>
    public string Shape { get; }

    public bool IsOurs { get; }

    public bool IsBaseline { get; }

    /// <summary>Gets the best run at each concurrency level (a run with failures never counts as best).</summary>
    public SortedDictionary<int, LoadResult> Results { get; } = [];

    /// <summary>Gets the operations that failed over all runs.</summary>
    public long Failures { get; private set; }

    /// <summary>Gets the best valid run (no failure), or null.</summary>
    public KeyValuePair<int, LoadResult>? Best => Results.Where(r => r.Value.Failed == 0).OrderByDescending(r => r.Value.PerSecond).Cast<KeyValuePair<int, LoadResult>?>().FirstOrDefault();

    public async Task RunAsync(int level, long total)
    {
        var result = await _run(level, total);
        Failures += result.Failed;
        if (!Results.TryGetValue(level, out var previous) || previous.Failed > 0 || (result.Failed == 0 && result.PerSecond > previous.PerSecond))
        {
            Results[level] = result;
        }
    }

    /// <summary>A series of the same runs that records its own results.</summary>
    public ThroughputSeries Copy() => new(Name, Shape, IsOurs, IsBaseline, _run);

    /// <summary>Runs without recording: connects, compiles and fills caches.</summary>
    public Task WarmUpAsync(int level, long total) => _run(level, total);
}
