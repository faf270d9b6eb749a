namespace RateLimiting.Redis;

/// <summary>
/// When the store gives up on its current multiplexer and builds a new one, bound from
/// <c>RateLimiting:Redis:Resilience</c>. A multiplexer can get stuck in ways it never recovers from
/// by itself (every command answered with a MOVED naming the node it was sent to; connections that
/// stay broken); a fresh one heals it, as a process restart would.
/// </summary>
public sealed class RedisResilienceOptions
{
    /// <summary>Gets or sets how many MOVED loops (a MOVED naming the node the client already routes that slot to) within <see cref="FaultWindow"/> force a reconnect.</summary>
    /// <value>The default value is 3. At least 1.</value>
    public int MovedLoopThreshold { get; set; } = 3;

    /// <summary>Gets or sets the window in which MOVED loops are counted.</summary>
    /// <value>The default value is 10 seconds. Between 100 milliseconds and 10 minutes.</value>
    public TimeSpan FaultWindow { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Gets or sets how long connection errors and timeouts must go on, with no pause as long as this, before they force a reconnect.
    /// Shorter outages are left to the multiplexer's own reconnection and to the failure mode.
    /// </summary>
    /// <value>The default value is 5 seconds. Between 100 milliseconds and 10 minutes.</value>
    public TimeSpan PersistentFaultDuration { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Gets or sets the minimum time between two reconnects; it doubles, with jitter, while the fault persists.</summary>
    /// <value>The default value is 5 seconds. Between 10 milliseconds and 10 minutes.</value>
    public TimeSpan MinReconnectInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Gets or sets the longest time between two reconnects while a fault persists.</summary>
    /// <value>The default value is 30 seconds. At least <see cref="MinReconnectInterval"/>, at most 1 hour.</value>
    public TimeSpan MaxReconnectInterval { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>Gets or sets how long Redis must have been failing before the health check reports unhealthy rather than degraded.</summary>
    /// <value>The default value is 30 seconds. Between 1 second and 1 hour.</value>
    public TimeSpan UnhealthyAfter { get; set; } = TimeSpan.FromSeconds(30);
}
