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
    private static readonly RateLimitRequest Probe = new("health", "probe", 1, TimeSpan.FromSeconds(1), cost: 0);

    /// <summary>sliding-window.lua's MODE_UNIT: the mode and the cost travel in one argument.</summary>
    private const long ModeUnit = 1L << 32;

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
        var now = _clock is null ? 0 : _clock.GetCurrentInstant().ToUnixTimeTicks() / TimeSpan.TicksPerMicrosecond;
        var reply = await EvaluateAsync(_script, request, now, request.Kind, request.Block, cancellationToken).ConfigureAwait(false);
        var window = (int)reply[1];
        var limit = request.Limits[window].PermitLimit;
        return new RateLimitDecision(
            reason: (RateLimitRejectReason)reply[0],
            limit: limit,
            remaining: (int)Math.Clamp(limit - reply[2], 0, limit),
            retryAfter: TimeSpan.FromMicroseconds(reply[3]),
            resetAfter: TimeSpan.FromMicroseconds(reply[4]),
            windowIndex: window,
            admission: reply[5]);
    }

    /// <inheritdoc />
    public async ValueTask RefundAsync(RateLimitRequest request, long admission, CancellationToken cancellationToken)
    {
        request.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(admission, 1);
        await EvaluateAsync(SlidingWindowScripts.Refund, request, admission, RateLimitRequestKind.Decide, block: null, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _ownsConnection ? _connection.DisposeAsync() : ValueTask.CompletedTask;

    /// <summary>
    /// Runs <paramref name="script"/> on the request's keys with <paramref name="first"/>, its cost
    /// (with <paramref name="kind"/>, as sliding-window.lua's modes are given) and its windows as
    /// arguments, and with <paramref name="block"/>, its block state's key and the block's three
    /// arguments.
    /// </summary>
    private ValueTask<long[]> EvaluateAsync(BatchableScript script, in RateLimitRequest request, long first, RateLimitRequestKind kind, RateLimitBlock? block, CancellationToken cancellationToken)
    {
        var (entries, totals) = _keys.For(request.Policy, request.Partition);
        var limits = request.Limits;
        Span<long> args = stackalloc long[2 + (2 * limits.Count) + (block is null ? 0 : 3)];
        args[0] = first;
        args[1] = request.Cost + ((long)kind * ModeUnit);
        for (var i = 0; i < limits.Count; i++)
        {
            args[2 + (2 * i)] = limits[i].PermitLimit;
            args[3 + (2 * i)] = Microseconds(limits[i].Window);
        }

        if (block is not { } penalty)
        {
            return _connection.EvaluateAsync(script, [entries, totals], args, cancellationToken);
        }

        args[^3] = penalty.AfterRejections;
        args[^2] = Microseconds(penalty.Within);
        args[^1] = Microseconds(penalty.Duration);
        return _connection.EvaluateAsync(script, [entries, totals, RedisKeyLayout.BlockOf(totals)], args, cancellationToken);
    }

    private static long Microseconds(TimeSpan span) => span.Ticks / TimeSpan.TicksPerMicrosecond;

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
