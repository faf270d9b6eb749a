namespace RateLimiting.Admin;

/// <summary>A partition's usage, as <see cref="IRateLimitAdmin.GetUsageAsync"/> read it: the window with the least remaining, as the <c>RateLimit</c> header reports it.</summary>
public sealed class RateLimitUsage
{
    internal RateLimitUsage(int windowIndex, int limit, int used, TimeSpan resetAfter, TimeSpan blockedFor, int? temporaryLimit, TimeSpan temporaryLimitLeft)
    {
        WindowIndex = windowIndex;
        Limit = limit;
        Used = used;
        ResetAfter = resetAfter;
        BlockedFor = blockedFor;
        TemporaryLimit = temporaryLimit;
        TemporaryLimitExpiresAfter = temporaryLimitLeft;
    }

    /// <summary>Gets the index of the reported window among the policy's windows, shortest first.</summary>
    public int WindowIndex { get; }

    /// <summary>Gets its permit limit, a temporary one included.</summary>
    public int Limit { get; }

    /// <summary>Gets the cost counted in it now.</summary>
    public int Used { get; }

    /// <summary>Gets the cost still available in it.</summary>
    public int Remaining => Math.Clamp(Limit - Used, 0, Limit);

    /// <summary>Gets the time until its oldest counted request leaves it; zero when it is empty.</summary>
    public TimeSpan ResetAfter { get; }

    /// <summary>Gets the time left of a penalty block; zero when the partition is not blocked.</summary>
    public TimeSpan BlockedFor { get; }

    /// <summary>Gets the temporary limit of the longest window (<see cref="IRateLimitAdmin.SetOverrideAsync"/>); null when none is set.</summary>
    public int? TemporaryLimit { get; }

    /// <summary>Gets the time left of <see cref="TemporaryLimit"/>; zero when none is set.</summary>
    public TimeSpan TemporaryLimitExpiresAfter { get; }
}
