namespace RateLimiting.Store;

/// <summary>Why a store rejected a request.</summary>
public enum RateLimitRejectReason
{
    /// <summary>The request was allowed.</summary>
    None = 0,

    /// <summary>The window holds too much cost for this request to fit now; it fits after <see cref="RateLimitDecision.RetryAfter"/>.</summary>
    QuotaExceeded = 1,

    /// <summary>The request costs more than the permit limit and can never fit; there is no retry time.</summary>
    CostExceedsLimit = 2,

    /// <summary>
    /// The partition is blocked for repeated rejections (<see cref="RateLimitRequest.Block"/>) until
    /// <see cref="RateLimitDecision.RetryAfter"/>, whatever its windows hold.
    /// </summary>
    Blocked = 3,

    /// <summary>An override of the policy denies the request (<see cref="Policies.RateLimitOverrideOptions.Deny"/>); no store was asked.</summary>
    Denied = 4,
}
