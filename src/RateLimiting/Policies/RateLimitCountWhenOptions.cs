namespace RateLimiting.Policies;

/// <summary>
/// Which responses a policy counts, bound from <c>RateLimiting:Policies:{name}:CountWhen</c>: the
/// request is checked before it runs (a partition with no room is rejected) and charged after its
/// response, only when the response matches, for example failed logins.
/// </summary>
public sealed class RateLimitCountWhenOptions
{
    /// <summary>Gets or sets the status codes of the responses that count, for example <c>[ 401, 403 ]</c>.</summary>
    /// <value>No default: required, at least one, each between 100 and 599.</value>
    public List<int>? StatusCodes { get; set; }
}
