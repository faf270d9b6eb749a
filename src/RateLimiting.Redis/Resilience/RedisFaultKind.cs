namespace RateLimiting.Redis.Resilience;

/// <summary>What went wrong with a Redis call, as far as the health of the connection is concerned.</summary>
internal enum RedisFaultKind
{
    /// <summary>Not a connection problem (a script error, a cancelled request): no bearing on reconnecting.</summary>
    None = 0,

    /// <summary>A MOVED naming the node the client already sends that slot to: the connection talks to the wrong node.</summary>
    MovedLoop = 1,

    /// <summary>No connection to the node, the node unreachable, or the cluster down.</summary>
    Connection = 2,

    /// <summary>The call missed its deadline.</summary>
    Timeout = 3,
}
