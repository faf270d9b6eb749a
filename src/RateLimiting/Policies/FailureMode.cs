namespace RateLimiting.Policies;

/// <summary>What a policy answers while its store cannot decide in time (unreachable, slow or stuck).</summary>
public enum FailureMode
{
    /// <summary>Admit the request: availability over enforcement.</summary>
    FailOpen = 0,

    /// <summary>Reject the request with 503 Service Unavailable and a Retry-After.</summary>
    FailClosed = 1,

    /// <summary>Decide with an in-memory sliding window in this instance, with the policy's limit and window.</summary>
    LocalFallback = 2,
}
