using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RateLimiting.Redis.Connection;
using RateLimiting.Store;
using RateLimiting.Time;

namespace RateLimiting.Redis.Store;

/// <summary>
/// An <see cref="IRateLimitStore"/> on Redis (Cluster or single node): one Lua script per decision
/// trims the window, counts it, admits or rejects and records, atomically, on one slot; decisions
/// bound for one master while a call to it is in flight share its next call
/// (<see cref="RedisStoreOptions.Batching"/>).
/// </summary>
public sealed class RedisRateLimitStore : IRateLimitStore, IAsyncDisposable
{
    /// <summary>A read-only decision: exercises the connection, the script and one slot, and writes nothing.</summary>
    private static readonly RateLimitRequest Probe = new("health", "probe", 1, TimeSpan.FromSeconds(1), Cost: 0);

    private readonly RedisConnection _connection;
    private readonly BatchableScript _script;
    private readonly bool _ownsConnection;
    private readonly RedisKeyLayout _keys;
    private readonly NodaTime.IClock? _clock;

    /// <summary>Creates a store that owns its connection.</summary>
    /// <param name="options">The connection and key options.</param>
    /// <param name="loggerFactory">Logs connection events; none when <see langword="null"/>.</param>
    public RedisRateLimitStore(RedisStoreOptions options, ILoggerFactory? loggerFactory = null)
        : this(CreateConnection(options, loggerFactory), options, ownsConnection: true)
    {
    }

    /// <summary>Creates a store on a connection the container owns (and shares with the health check).</summary>
    internal RedisRateLimitStore(RedisConnection connection, RedisStoreOptions options, BatchableScript? script = null)
        : this(connection, options, ownsConnection: false, script)
    {
    }

    private RedisRateLimitStore(RedisConnection connection, RedisStoreOptions options, bool ownsConnection, BatchableScript? script = null)
    {
        _connection = connection;
        _script = script ?? SlidingWindowScripts.Decide;
        _ownsConnection = ownsConnection;
        _keys = new RedisKeyLayout(options.KeyPrefix);
        _clock = options.Clock;
    }

    /// <summary>Asks Redis a question that changes nothing; the connection records how it went.</summary>
    internal async Task ProbeAsync(CancellationToken cancellationToken)
    {
        try
        {
            await DecideAsync(Probe, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            // Recorded by the connection's health.
        }
    }

    /// <inheritdoc />
    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    public async ValueTask<RateLimitDecision> DecideAsync(RateLimitRequest request, CancellationToken cancellationToken)
    {
        request.Validate();
        var (entries, totals) = _keys.For(request.Policy, request.Partition);
        var windowMicroseconds = request.Window.Ticks / TimeSpan.TicksPerMicrosecond;
        var reply = await (_clock is null
            ? _connection.EvaluateAsync(_script, [entries, totals], [request.PermitLimit, windowMicroseconds, request.Cost], cancellationToken)
            : _connection.EvaluateAsync(_script, [entries, totals], [request.PermitLimit, windowMicroseconds, request.Cost, _clock.GetCurrentInstant().ToUnixTimeTicks() / TimeSpan.TicksPerMicrosecond], cancellationToken)).ConfigureAwait(false);
        return new RateLimitDecision(
            reason: (RateLimitRejectReason)reply[0],
            limit: request.PermitLimit,
            remaining: (int)Math.Clamp(request.PermitLimit - reply[1], 0, request.PermitLimit),
            retryAfter: TimeSpan.FromMicroseconds(reply[2]),
            resetAfter: TimeSpan.FromMicroseconds(reply[3]));
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _ownsConnection ? _connection.DisposeAsync() : ValueTask.CompletedTask;

    private static RedisConnection CreateConnection(RedisStoreOptions options, ILoggerFactory? loggerFactory)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.Configuration is null && options.ConnectionFactory is null)
        {
            throw new ArgumentException($"Set {nameof(RedisStoreOptions.Configuration)} or {nameof(RedisStoreOptions.ConnectionFactory)}.", nameof(options));
        }

        return new RedisConnection(options, (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<RedisRateLimitStore>(), MonotonicClock.Instance, meterFactory: null);
    }
}
