using RateLimiting.Redis.Store;

namespace RateLimiting.Redis.Resilience;

/// <summary>
/// How the store rides out a misbehaving cluster, bound from <c>RateLimiting:Redis:Resilience</c>:
/// when it gives up on its current multiplexer and builds a new one (a multiplexer can get stuck in
/// ways it never recovers from by itself, such as every command answered with a MOVED naming the
/// node it was sent to; a fresh one heals it, as a process restart would), and when it stops asking
/// a master that does not answer (its circuit breaker), so that the failure mode answers at once.
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

    /// <summary>
    /// Gets or sets how many decisions in a row must fail on one master without an answer (timeouts,
    /// no connection), with no success in between, to open its circuit breaker. While it is open,
    /// decisions for that master's slots are answered by their failure mode at once, without asking
    /// Redis; the other masters are not affected. The same applies to all decisions while there is no
    /// connection at all.
    /// </summary>
    /// <value>The default value is 3. Between 1 and 1000.</value>
    public int BreakerFailureThreshold { get; set; } = 3;

    /// <summary>
    /// Gets or sets how far apart the first and the last of those failed decisions must have been
    /// sent. Calls in flight on a connection that drops fail together, within a millisecond, and the
    /// client usually reconnects at once; the calls of a process that stalled for a moment (a long
    /// GC pause, a starved thread pool) miss their deadlines together too. Neither alone must open
    /// a breaker. A master that does not answer fails decisions sent over the whole outage.
    /// </summary>
    /// <value>The default value is 250 milliseconds (the default operation timeout). Between 0 and 1 minute.</value>
    public TimeSpan BreakerFailureSpan { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Gets or sets how often an open breaker asks its master a read-only question (one at a time,
    /// each bounded by <see cref="RedisStoreOptions.OperationTimeout"/>, up to 50 % later at random);
    /// the first that is answered closes the breaker.
    /// </summary>
    /// <value>The default value is 250 milliseconds. Between 10 milliseconds and 10 seconds.</value>
    public TimeSpan BreakerProbeInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// Gets or sets the longest wait before the first probe of a breaker that opens again soon after it
    /// closed (a flapping master): each such reopening doubles the wait from
    /// <see cref="BreakerProbeInterval"/>, up to this; a reopening after the breaker stayed closed
    /// for this long starts again from <see cref="BreakerProbeInterval"/>.
    /// </summary>
    /// <value>The default value is 8 seconds. At least <see cref="BreakerProbeInterval"/>, at most 10 minutes.</value>
    public TimeSpan BreakerMaxProbeInterval { get; set; } = TimeSpan.FromSeconds(8);
}
