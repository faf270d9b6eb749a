using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using RateLimiting.Admin;
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
public sealed class RedisRateLimitStore : IRateLimitStore, IRateLimitStoreAdmin, IAsyncDisposable
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
        var reply = await EvaluateAsync(_script, request, Now(), request.Kind, request.Block, cancellationToken).ConfigureAwait(false);
        var window = (int)reply[1];
        var temporaryLimit = (int)reply[6];
        var limit = LimitOf(request.Limits, window, temporaryLimit);
        return new RateLimitDecision(
            reason: (RateLimitRejectReason)reply[0],
            limit: limit,
            remaining: (int)Math.Clamp(limit - reply[2], 0, limit),
            retryAfter: TimeSpan.FromMicroseconds(reply[3]),
            resetAfter: TimeSpan.FromMicroseconds(reply[4]),
            windowIndex: window,
            admission: reply[5])
        {
            TemporaryLimit = temporaryLimit,
        };
    }

    /// <inheritdoc />
    public async ValueTask RefundAsync(RateLimitRequest request, long admission, CancellationToken cancellationToken)
    {
        request.Validate();
        ArgumentOutOfRangeException.ThrowIfLessThan(admission, 1);
        await EvaluateAsync(SlidingWindowScripts.Refund, request, admission, RateLimitRequestKind.Decide, block: null, cancellationToken).ConfigureAwait(false);
    }

    event Action<string>? IRateLimitStoreAdmin.PartitionChanged
    {
        add => _connection.Notices.Received += value;
        remove => _connection.Notices.Received -= value;
    }

    /// <inheritdoc />
    async ValueTask<RateLimitUsage> IRateLimitStoreAdmin.GetUsageAsync(RateLimitRequest request, CancellationToken cancellationToken)
    {
        var (entries, totals) = _keys.For(request.Policy, request.Partition);
        var limits = request.Limits;
        var args = new long[1 + (2 * limits.Count)];
        args[0] = Now();
        for (var i = 0; i < limits.Count; i++)
        {
            args[1 + (2 * i)] = limits[i].PermitLimit;
            args[2 + (2 * i)] = Microseconds(limits[i].Window);
        }

        var reply = await _connection.EvaluateAsync(SlidingWindowScripts.Usage, [entries, RedisKeyLayout.BlockOf(totals), RedisKeyLayout.TemporaryLimitOf(totals)], args, cancellationToken).ConfigureAwait(false);
        var temporaryLimit = (int)reply[^2];
        // The window the headers report: the least remaining, the longer on a tie.
        var reported = 0;
        for (var i = 1; i < limits.Count; i++)
        {
            if (LimitOf(limits, i, temporaryLimit) - reply[2 * i] <= LimitOf(limits, reported, temporaryLimit) - reply[2 * reported])
            {
                reported = i;
            }
        }

        return new RateLimitUsage(
            reported,
            LimitOf(limits, reported, temporaryLimit),
            (int)Math.Min(reply[2 * reported], int.MaxValue),
            resetAfter: TimeSpan.FromMicroseconds(reply[(2 * reported) + 1]),
            blockedFor: TimeSpan.FromMicroseconds(reply[^3]),
            temporaryLimit: temporaryLimit > 0 ? temporaryLimit : null,
            temporaryLimitLeft: TimeSpan.FromMicroseconds(reply[^1]));
    }

    /// <inheritdoc />
    async ValueTask<bool> IRateLimitStoreAdmin.ResetAsync(RateLimitRequest request, CancellationToken cancellationToken)
    {
        var (entries, totals) = _keys.For(request.Policy, request.Partition);
        var reply = await _connection.EvaluateAsync(SlidingWindowScripts.Reset, [entries, totals, RedisKeyLayout.BlockOf(totals)], [_connection.Notices.Channel.ToString(), request.Policy], cancellationToken).ConfigureAwait(false);
        return reply[0] > 0;
    }

    /// <inheritdoc />
    async ValueTask<bool> IRateLimitStoreAdmin.SetTemporaryLimitAsync(RateLimitRequest request, int permitLimit, TimeSpan duration, CancellationToken cancellationToken)
    {
        var (_, totals) = _keys.For(request.Policy, request.Partition);
        var reply = await _connection.EvaluateAsync(
            SlidingWindowScripts.Override,
            [totals, RedisKeyLayout.TemporaryLimitOf(totals)],
            [Now(), permitLimit, Microseconds(duration), _connection.Notices.Channel.ToString(), request.Policy],
            cancellationToken).ConfigureAwait(false);
        return reply[0] > 0;
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

    /// <summary>The time scripts decide at: the test clock's, or 0 for the Redis server's.</summary>
    private long Now() => _clock is null ? 0 : _clock.GetCurrentInstant().ToUnixTimeTicks() / TimeSpan.TicksPerMicrosecond;

    /// <summary>A window's permit limit, the longest window's replaced by a temporary limit (0 for none).</summary>
    private static int LimitOf(IReadOnlyList<RateLimitWindow> limits, int window, int temporaryLimit)
        => temporaryLimit > 0 && window == limits.Count - 1 ? temporaryLimit : limits[window].PermitLimit;

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
