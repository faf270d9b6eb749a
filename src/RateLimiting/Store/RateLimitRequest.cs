namespace RateLimiting.Store;

/// <summary>One request for a decision from an <see cref="IRateLimitStore"/>.</summary>
public readonly record struct RateLimitRequest
{
    /// <summary>Creates a request against one window.</summary>
    /// <param name="policy">The policy name; partitions of different policies never share a window.</param>
    /// <param name="partition">The partition value as the application sees it (an API key, an IP, a user id). Stores treat it as opaque and never store or log it raw.</param>
    /// <param name="permitLimit">The total cost admitted per window; at least 1.</param>
    /// <param name="window">The length of the sliding window; at least one millisecond.</param>
    /// <param name="cost">The cost of this request; 0 asks for the current state and records nothing.</param>
    public RateLimitRequest(string policy, string partition, int permitLimit, TimeSpan window, int cost)
        : this(policy, partition, [new RateLimitWindow(permitLimit, window)], cost)
    {
    }

    /// <summary>Creates a request against several windows of one partition, all decided together.</summary>
    /// <param name="policy">The policy name; partitions of different policies never share a window.</param>
    /// <param name="partition">The partition value as the application sees it. Stores treat it as opaque and never store or log it raw.</param>
    /// <param name="limits">The windows, shortest first, none of equal length: the request is admitted only if every one has room for its cost.</param>
    /// <param name="cost">The cost of this request; 0 asks for the current state and records nothing.</param>
    public RateLimitRequest(string policy, string partition, IReadOnlyList<RateLimitWindow> limits, int cost)
    {
        Policy = policy;
        Partition = partition;
        Limits = limits;
        Cost = cost;
    }

    /// <summary>Gets the policy name.</summary>
    public string Policy { get; }

    /// <summary>Gets the partition value.</summary>
    public string Partition { get; }

    /// <summary>Gets the windows, shortest first.</summary>
    public IReadOnlyList<RateLimitWindow> Limits { get; }

    /// <summary>Gets the cost of this request; 0 asks for the current state and records nothing.</summary>
    public int Cost { get; }

    /// <summary>Gets what is asked: a decision (the default), a check that records nothing, or a charge that records whatever the windows hold.</summary>
    public RateLimitRequestKind Kind { get; init; }

    /// <summary>Gets the penalty for a partition rejected too often, decided with the quota; none when null. Stores that cannot block ignore it.</summary>
    public RateLimitBlock? Block { get; init; }

    internal void Validate()
    {
        ArgumentNullException.ThrowIfNull(Policy);
        ArgumentNullException.ThrowIfNull(Partition);
        ArgumentNullException.ThrowIfNull(Limits);
        ArgumentOutOfRangeException.ThrowIfZero(Limits.Count);
        ArgumentOutOfRangeException.ThrowIfNegative(Cost);
        if (!Enum.IsDefined(Kind))
        {
            throw new ArgumentOutOfRangeException(nameof(Kind), Kind, "Not a kind of request.");
        }
        var shorter = TimeSpan.Zero;
        foreach (var (permitLimit, window) in Limits)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(permitLimit, 1);
            ArgumentOutOfRangeException.ThrowIfLessThan(window, TimeSpan.FromMilliseconds(1));
            if (window <= shorter)
            {
                throw new ArgumentException("The windows must be given shortest first, none of equal length.", nameof(Limits));
            }

            shorter = window;
        }

        if (Block is { } block)
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(block.AfterRejections, 1);
            ArgumentOutOfRangeException.ThrowIfLessThan(block.Within, TimeSpan.FromMilliseconds(1));
            ArgumentOutOfRangeException.ThrowIfLessThan(block.Duration, TimeSpan.FromMilliseconds(1));
        }
    }
}
