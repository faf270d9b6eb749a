namespace RateLimiting.Benchmarks.Http;

/// <summary>
/// Responses counted by <see cref="StatusCounter"/>: 200, 429 and anything else (503 when the store
/// failed), with the last other status; and requests the client aborted, which have none.
/// </summary>
internal readonly record struct StatusCounts(long Ok, long TooManyRequests, long Other, int LastOther, long Aborted)
{
    public static StatusCounts operator -(StatusCounts after, StatusCounts before)
        => new(after.Ok - before.Ok, after.TooManyRequests - before.TooManyRequests, after.Other - before.Other, after.LastOther, after.Aborted - before.Aborted);

    public static StatusCounts operator +(StatusCounts left, StatusCounts right)
        => new(left.Ok + right.Ok, left.TooManyRequests + right.TooManyRequests, left.Other + right.Other, right.Other > 0 ? right.LastOther : left.LastOther, left.Aborted + right.Aborted);

    public long Total => Ok + TooManyRequests + Other;

    /// <summary>Counts the responses whose status is not <paramref name="expected"/>.</summary>
    public long Unexpected(int expected) => expected switch
    {
        200 => TooManyRequests + Other,
        429 => Ok + Other,
        _ => Total,
    };
}
