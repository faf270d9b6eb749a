using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;
using RateLimiting.Redis.Connection;
using RateLimiting.Redis.Resilience;
using RateLimiting.Redis.Store;

namespace RateLimiting.Redis.Health;

/// <summary>
/// Healthy while Redis decides; degraded while failure modes answer (calls fail, or a master's
/// circuit breaker is open) or a stuck multiplexer is being replaced; unhealthy once Redis has been
/// failing for <see cref="RedisResilienceOptions.UnhealthyAfter"/>.
/// Without recent traffic it asks Redis itself, with a read-only decision.
/// </summary>
internal sealed class RedisRateLimitingHealthCheck : IHealthCheck
{
    private static readonly TimeSpan ProbeWhenIdleFor = TimeSpan.FromSeconds(5);

    private readonly RedisRateLimitStore _store;
    private readonly RedisConnection _connection;
    private readonly RedisResilienceOptions _options;

    public RedisRateLimitingHealthCheck(RedisRateLimitStore store, RedisConnection connection, IOptions<RedisRateLimitingOptions> options)
    {
        _store = store;
        _connection = connection;
        _options = options.Value.Redis.Resilience;
    }

    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (_connection.Health.SinceLastCall is not { } idle || idle > ProbeWhenIdleFor)
        {
            // Recorded by the connection; the state below reports it.
            await _store.ProbeAsync(cancellationToken).ConfigureAwait(false);
        }

        return Evaluate(_connection.Health, _connection.Supervisor);
    }

    private HealthCheckResult Evaluate(ConnectionHealth health, MultiplexerSupervisor supervisor)
    {
        var data = new Dictionary<string, object> { ["reconnects"] = supervisor.Reconnects };
        var open = health.OpenBreakers;
        if (open.Count > 0)
        {
            data["open_breakers"] = string.Join(',', open);
        }

        if (health.FailingFor is { } failing)
        {
            data["failing_for_seconds"] = Math.Round(failing.TotalSeconds, 1);
            return failing >= _options.UnhealthyAfter
                ? HealthCheckResult.Unhealthy($"Redis has been failing for {failing.TotalSeconds:0} s; failure modes answer.", data: data)
                : HealthCheckResult.Degraded("Redis calls are failing; failure modes answer.", data: data);
        }

        if (open.Count > 0)
        {
            return HealthCheckResult.Degraded($"Redis {string.Join(", ", open)} failing: failure modes answer their decisions at once.", data: data);
        }

        return supervisor.IsReconnecting
            ? HealthCheckResult.Degraded("Replacing a stuck Redis multiplexer.", data: data)
            : HealthCheckResult.Healthy("Redis decides.", data);
    }
}
