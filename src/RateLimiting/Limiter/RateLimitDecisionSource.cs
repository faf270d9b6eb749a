using RateLimiting.Policies;

namespace RateLimiting.Limiter;

/// <summary>Who made a decision.</summary>
public enum RateLimitDecisionSource
{
    /// <summary>The store (Redis in production): exact and shared by every instance.</summary>
    Store = 0,

    /// <summary>The store could not decide in time and the policy's <see cref="FailureMode.FailOpen"/> admitted.</summary>
    FailOpen = 1,

    /// <summary>The store could not decide in time and the policy's <see cref="FailureMode.FailClosed"/> rejected.</summary>
    FailClosed = 2,

    /// <summary>The store could not decide in time and this instance's in-memory window decided.</summary>
    LocalFallback = 3,

    /// <summary>An override of the policy exempted or denied the request without asking the store.</summary>
    Override = 4,
}
