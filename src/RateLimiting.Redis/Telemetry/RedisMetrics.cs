using System.Diagnostics.Metrics;
using RateLimiting.Redis.Health;
using RateLimiting.Telemetry;

namespace RateLimiting.Redis.Telemetry;

/// <summary>
/// The Redis store's instruments, on the library's meter (<see cref="RateLimitingTelemetry.MeterName"/>),
/// created once per store through <see cref="IMeterFactory"/>; the gauges read <see cref="ConnectionHealth"/>.
/// </summary>
internal sealed class RedisMetrics
{
    public const string ReasonTag = "ratelimiting.reconnect.reason";

    private readonly Counter<long> _reconnects;
    private readonly Counter<long> _movedLoops;
    private readonly Histogram<int> _batchSizes;

    public RedisMetrics(IMeterFactory meterFactory, ConnectionHealth health)
    {
        var meter = meterFactory.Create(RateLimitingTelemetry.MeterName);
        _reconnects = meter.CreateCounter<long>("ratelimiting.redis.reconnects", "{reconnect}", "Redis multiplexers replaced because they were stuck, by reason.");
        _movedLoops = meter.CreateCounter<long>("ratelimiting.redis.moved_loops", "{error}", "MOVED replies naming the node the command was already sent to.");
        _batchSizes = meter.CreateHistogram<int>("ratelimiting.redis.batch.size", "{decision}", "Decisions per call to a Redis master: 1 when nothing was in flight for it, more when they queued behind a call.", advice: new InstrumentAdvice<int> { HistogramBucketBoundaries = [1, 2, 4, 8, 16, 32, 64] });
        meter.CreateObservableGauge("ratelimiting.failure_mode.active", () => health.IsFailureModeActive ? 1 : 0, "{state}", "1 while failure modes answer because Redis cannot: the last call failed, or a breaker is open.");
        meter.CreateObservableGauge("ratelimiting.redis.breakers.open", () => health.OpenBreakerCount, "{breaker}", "Open circuit breakers: masters (or the connection) whose decisions failure modes answer at once.");
    }

    /// <param name="reason">One of <see cref="Resilience.ReconnectReason"/>.</param>
    public void Reconnected(string reason)
    {
        if (_reconnects.Enabled)
        {
            _reconnects.Add(1, new KeyValuePair<string, object?>(ReasonTag, reason));
        }
    }

    public void MovedLoop() => _movedLoops.Add(1);

    public void BatchSent(int decisions) => _batchSizes.Record(decisions);
}
