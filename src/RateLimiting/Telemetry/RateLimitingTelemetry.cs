namespace RateLimiting.Telemetry;

/// <summary>
/// Names of the library's <see cref="System.Diagnostics.Metrics.Meter"/> and
/// <see cref="System.Diagnostics.ActivitySource"/>, for <c>AddMeter</c> and <c>AddSource</c> in
/// OpenTelemetry. Neither ever carries a partition value, a password or a connection string.
/// </summary>
public static class RateLimitingTelemetry
{
    /// <summary>The meter: <c>ratelimiting.decisions</c>, <c>ratelimiting.store.duration</c>, <c>ratelimiting.redis.reconnects</c>, <c>ratelimiting.redis.moved_loops</c>, <c>ratelimiting.failure_mode.active</c>.</summary>
    public const string MeterName = "RateLimiting";

    /// <summary>The activity source: one <c>ratelimiting.store.decide</c> span per store call.</summary>
    public const string ActivitySourceName = "RateLimiting";
}
