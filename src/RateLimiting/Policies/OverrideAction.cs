namespace RateLimiting.Policies;

/// <summary>What a request's policy does with it, by its matching override or by default.</summary>
internal enum OverrideAction
{
    /// <summary>Decided against windows: the policy's own, an override's, or the limit selector's.</summary>
    Limits,

    /// <summary>Admitted without a limit, a store call or rate-limit headers.</summary>
    Exempt,

    /// <summary>Refused without a store call.</summary>
    Deny,
}
