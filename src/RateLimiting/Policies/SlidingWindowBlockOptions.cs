namespace RateLimiting.Policies;

/// <summary>
/// A penalty for clients that keep coming back after a rejection, bound from
/// <c>RateLimiting:Policies:{name}:Block</c>: after <see cref="AfterRejections"/> rejections of one
/// partition for exceeding its quota within <see cref="Within"/>, every request of the partition is
/// rejected for <see cref="For"/>.
/// </summary>
public sealed class SlidingWindowBlockOptions
{
    /// <summary>Gets or sets how many rejections start a block.</summary>
    /// <value>No default: required, at least 1.</value>
    public int AfterRejections { get; set; }

    /// <summary>Gets or sets how long a rejection counts towards a block, for example <c>00:10:00</c>.</summary>
    /// <value>No default: required, between 1 millisecond and 365 days.</value>
    public TimeSpan Within { get; set; }

    /// <summary>Gets or sets how long a block lasts, for example <c>01:00:00</c>.</summary>
    /// <value>No default: required, between 1 millisecond and 365 days.</value>
    public TimeSpan For { get; set; }
}
