namespace RateLimiting.Redis.Tests.Infrastructure.FaultProxy;

/// <summary>How <see cref="RedisFaultProxy"/> routes connections to its upstream nodes.</summary>
public enum ProxyMode
{
    /// <summary>Every new connection goes to its own node (listen port k to upstream k).</summary>
    Normal,

    /// <summary>
    /// Every connection open at the moment of the switch is re-pointed to another node, without
    /// closing its client side; connections opened afterwards go to their own node.
    /// </summary>
    MisrouteExisting,

    /// <summary>Like <see cref="MisrouteExisting"/>, and new connections go to the other node too.</summary>
    MisrouteAll,
}
