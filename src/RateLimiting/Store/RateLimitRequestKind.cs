namespace RateLimiting.Store;

/// <summary>What a <see cref="RateLimitRequest"/> asks of the store.</summary>
public enum RateLimitRequestKind
{
    /// <summary>Admit and record the cost if every window has room, else reject.</summary>
    Decide = 0,

    /// <summary>Answer as <see cref="Decide"/> would, recording nothing: a request whose cost its response decides.</summary>
    Check = 1,

    /// <summary>Record the cost whatever the windows hold: a cost decided by a response that was already served.</summary>
    Charge = 2,
}
