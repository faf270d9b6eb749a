namespace RateLimiting.Benchmarks.Http;

/// <summary>Counts responses by status, so that each HTTP figure can be checked: all 200, or all 429.</summary>
internal sealed class StatusCounter
{
    /// <summary>
    /// Stands for a request the client gave up on (wrk closes its connections at its deadline):
    /// ASP.NET Core's rate limiter then returns without a status, which would read as a 200.
    /// </summary>
    public const int Aborted = -1;

    private long _ok;
    private long _aborted;
    private long _tooManyRequests;
    private long _other;
    private int _lastOther;

    public void Count(int statusCode)
    {
        switch (statusCode)
        {
            case 200:
                Interlocked.Increment(ref _ok);
                break;
            case 429:
                Interlocked.Increment(ref _tooManyRequests);
                break;
            case Aborted:
                Interlocked.Increment(ref _aborted);
                break;
            default:
                Interlocked.Increment(ref _other);
                Volatile.Write(ref _lastOther, statusCode);
                break;
        }
    }

    public StatusCounts Snapshot() => new(Interlocked.Read(ref _ok), Interlocked.Read(ref _tooManyRequests), Interlocked.Read(ref _other), Volatile.Read(ref _lastOther), Interlocked.Read(ref _aborted));
}
