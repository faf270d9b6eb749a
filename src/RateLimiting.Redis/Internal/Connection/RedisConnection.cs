using System.Net;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using RateLimiting.Redis.Internal.Resilience;
using StackExchange.Redis;

namespace RateLimiting.Redis.Internal.Connection;

/// <summary>
/// The seam around StackExchange.Redis: the only type that talks to the client library. It owns the
/// multiplexer, bounds every call with <see cref="RedisStoreOptions.OperationTimeout"/> (1.2.6 has no
/// asynchronous timeout of its own), runs scripts by SHA (sending the source on NOSCRIPT), retries
/// what a resharding cluster answers (TRYAGAIN, a MOVED to another node) within the deadline, and
/// replaces the multiplexer when callers' faults show it is stuck (<see cref="FaultDetector"/>):
/// one reconnect at a time, swapped atomically, the old one closed once its calls have drained.
/// </summary>
internal sealed partial class RedisConnection : IAsyncDisposable
{
    // The client's own default, for a ConnectionFactory's multiplexer whose configuration is not known before it exists.
    private const int DefaultConnectTimeoutMilliseconds = 5000;

    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan SettleRetryDelay = TimeSpan.FromMilliseconds(50);

    private readonly RedisStoreOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly FaultDetector _faults;
    private readonly RedisConnectionDiagnostics _diagnostics;
    private readonly object _gate = new();
    private readonly List<Task> _closing = [];
    private Task<MultiplexerGeneration>? _current;
    private int _generations;
    private int _reconnecting;
    private long _reconnects;
    private long _lastSuccess;
    private long _lastFailure;
    private long _failingSince;
    private bool _disposed;

    public RedisConnection(RedisStoreOptions options, ILogger logger, TimeProvider? time = null)
    {
        _options = options;
        _logger = logger;
        _time = time ?? TimeProvider.System;
        _faults = new FaultDetector(options.Resilience, _time);
        _diagnostics = new RedisConnectionDiagnostics(options, logger, _time);
    }

    /// <summary>Raised after a stuck multiplexer was replaced, with the reason (<c>moved_loop</c>, <c>persistent_connection_errors</c>, <c>persistent_timeouts</c>).</summary>
    public event Action<string>? Reconnected;

    /// <summary>Raised for every MOVED naming the node the command was sent to.</summary>
    public event Action? MovedLoopDetected;

    /// <summary>Gets how many times the multiplexer was replaced.</summary>
    public long Reconnects => Interlocked.Read(ref _reconnects);

    /// <summary>Gets the multiplexer in use, if connected.</summary>
    public MultiplexerGeneration? Current => _current is { IsCompletedSuccessfully: true } current ? current.Result : null;

    /// <summary>Gets a value indicating whether a reconnect is under way.</summary>
    public bool IsReconnecting => Volatile.Read(ref _reconnecting) != 0;

    /// <summary>Gets how long calls have been failing without a success in between; null while the last call succeeded (or none was made).</summary>
    public TimeSpan? FailingFor => Volatile.Read(ref _lastFailure) > Volatile.Read(ref _lastSuccess)
        ? _time.GetElapsedTime(Volatile.Read(ref _failingSince))
        : null;

    /// <summary>Gets the time since the last call, successful or not; null when none was made.</summary>
    public TimeSpan? SinceLastCall => Math.Max(Volatile.Read(ref _lastSuccess), Volatile.Read(ref _lastFailure)) is var last and > 0
        ? _time.GetElapsedTime(last)
        : null;

    /// <summary>Runs <paramref name="script"/> on the slot of <paramref name="keys"/> and returns its integer array reply.</summary>
    public ValueTask<long[]> EvaluateAsync(RedisScript script, ReadOnlySpan<string> keys, ReadOnlySpan<long> args, CancellationToken cancellationToken)
    {
        var redisKeys = new RedisKey[keys.Length];
        for (var i = 0; i < keys.Length; i++)
        {
            redisKeys[i] = keys[i];
        }

        var redisArgs = new RedisValue[args.Length];
        for (var i = 0; i < args.Length; i++)
        {
            redisArgs[i] = args[i];
        }

        return EvaluateCoreAsync(script, redisKeys, redisArgs, cancellationToken);
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<long[]> EvaluateCoreAsync(RedisScript script, RedisKey[] redisKeys, RedisValue[] redisArgs, CancellationToken cancellationToken)
    {
        var started = _time.GetTimestamp();
        MultiplexerGeneration generation;
        try
        {
            // Connected (the usual case): no deadline task for what is already there.
            generation = Volatile.Read(ref _current) is { IsCompletedSuccessfully: true } connected
                ? connected.Result
                : await Bounded(GetGenerationAsync(), started, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            // Still connecting (or the factory failed): a failure for health, nothing to replace yet.
            MarkFailure();
            _diagnostics.OnFailure(ex, Current?.Multiplexer);
            throw;
        }

        generation.Enter();
        try
        {
            var database = generation.Multiplexer.GetDatabase();
            var sendSource = false;
            while (true)
            {
                try
                {
                    var call = sendSource
                        ? database.ScriptEvaluateAsync(script.Source, redisKeys, redisArgs)
                        : database.ScriptEvaluateAsync(script.Sha1, redisKeys, redisArgs);
                    var result = await Bounded(call, started, cancellationToken).ConfigureAwait(false);
                    _faults.RecordSuccess();
                    Volatile.Write(ref _lastSuccess, _time.GetTimestamp());
                    _diagnostics.OnSuccess(generation.Multiplexer);
                    return (long[])result!;
                }
                catch (RedisServerException ex) when (!sendSource && ex.Message.StartsWith("NOSCRIPT", StringComparison.Ordinal))
                {
                    // A node that never saw the script: a new or failed-over master, or SCRIPT FLUSH.
                    Log.ScriptReloaded(_logger);
                    sendSource = true;
                }
                catch (RedisServerException ex) when (IsResharding(ex, generation) && TimeLeft(started) > RetryDelay)
                {
                    await Task.Delay(RetryDelay, _time, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            OnFault(generation, Classify(ex, generation));

            // A set-up mistake (password, certificate, TLS) gets one log event naming it.
            _diagnostics.OnFailure(ex, generation.Multiplexer);
            throw;
        }
        finally
        {
            generation.Exit();
        }
    }

    public async ValueTask DisposeAsync()
    {
        Task<MultiplexerGeneration>? current;
        Task[] closing;
        lock (_gate)
        {
            _disposed = true;
            current = _current;
            _current = null;
            closing = [.. _closing];
        }

        if (current is not null)
        {
            try
            {
                var generation = await current.ConfigureAwait(false);
                await generation.DrainAndCloseAsync(TimeSpan.Zero, _time).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException or InvalidOperationException)
            {
                // Shutting down: a multiplexer that never connected has nothing to close.
            }
        }

        await Task.WhenAll(closing).ConfigureAwait(false);
    }

    private static bool IsResharding(RedisServerException ex, MultiplexerGeneration generation)
        => ex.Message.StartsWith("TRYAGAIN", StringComparison.Ordinal)
        || (ex.Message.StartsWith("MOVED", StringComparison.Ordinal) && !IsMovedLoop(ex.Message, generation));

    private static RedisFaultKind Classify(Exception exception, MultiplexerGeneration generation) => exception switch
    {
        TimeoutException => RedisFaultKind.Timeout,
        RedisConnectionException => RedisFaultKind.Connection,
        RedisServerException { Message: var message } when message.StartsWith("MOVED", StringComparison.Ordinal)
            => IsMovedLoop(message, generation) ? RedisFaultKind.MovedLoop : RedisFaultKind.None,
        RedisException { Message: var message } when message.StartsWith("CLUSTERDOWN", StringComparison.Ordinal)
            || message.StartsWith("MASTERDOWN", StringComparison.Ordinal)
            || message.StartsWith("LOADING", StringComparison.Ordinal)
            || message.Contains("is not reachable", StringComparison.Ordinal)
            || message.StartsWith("No connection", StringComparison.Ordinal) => RedisFaultKind.Connection,
        _ => RedisFaultKind.None,
    };

    /// <summary>
    /// A MOVED is a loop when it names the node that this multiplexer already sends the slot to:
    /// following it cannot help. One naming another node is a slot that moved (resharding).
    /// </summary>
    private static bool IsMovedLoop(string message, MultiplexerGeneration generation)
    {
        // "MOVED <slot> <host>:<port>"
        var parts = message.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length < 3 || !int.TryParse(parts[1], out var slot) || !IPEndPoint.TryParse(parts[2], out var named))
        {
            return true;
        }

        try
        {
            var multiplexer = generation.Multiplexer;
            var owner = multiplexer.GetServer(named).ClusterConfiguration?.GetBySlot(slot)?.EndPoint;
            return owner is null || named.Equals(owner as IPEndPoint) || owner.ToString() == named.ToString();
        }
        catch (Exception ex) when (ex is RedisException or ArgumentException or NotSupportedException)
        {
            return true;
        }
    }

    private void MarkFailure()
    {
        var now = _time.GetTimestamp();
        if (Volatile.Read(ref _lastFailure) <= Volatile.Read(ref _lastSuccess))
        {
            Volatile.Write(ref _failingSince, now);
        }

        Volatile.Write(ref _lastFailure, now);
    }

    private void OnFault(MultiplexerGeneration generation, RedisFaultKind kind)
    {
        MarkFailure();
        if (kind == RedisFaultKind.MovedLoop)
        {
            MovedLoopDetected?.Invoke();
        }

        if (_faults.RecordFault(kind) is not { } reason || Interlocked.CompareExchange(ref _reconnecting, 1, 0) != 0)
        {
            return;
        }

        Log.Reconnecting(_logger, reason, generation.Number);
        _ = Task.Run(() => ReconnectAsync(generation, reason));
    }

    private async Task ReconnectAsync(MultiplexerGeneration stuck, string reason)
    {
        try
        {
            var fresh = await ConnectAsync().ConfigureAwait(false);
            await SettleAsync(fresh.Multiplexer).ConfigureAwait(false);
            Task closing;
            bool swapped;
            lock (_gate)
            {
                // Swap only what the faults were seen on; shutting down or already replaced: drop the new one.
                swapped = !_disposed && _current is { IsCompletedSuccessfully: true } current && current.Result == stuck;
                if (swapped)
                {
                    _current = Task.FromResult(fresh);
                    Interlocked.Increment(ref _reconnects);
                }

                closing = swapped ? stuck.DrainAndCloseAsync(_options.OperationTimeout * 2, _time) : fresh.DrainAndCloseAsync(TimeSpan.Zero, _time);
                _closing.Add(closing);
            }

            if (swapped)
            {
                Log.Reconnected(_logger, reason, fresh.Number);
                Reconnected?.Invoke(reason);
            }

            await closing.ConfigureAwait(false);
            lock (_gate)
            {
                _closing.Remove(closing);
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or InvalidOperationException or ArgumentException)
        {
            Log.ReconnectFailed(_logger, reason, ex);
        }
        finally
        {
            Volatile.Write(ref _reconnecting, 0);
        }
    }

    private Task<MultiplexerGeneration> GetGenerationAsync()
    {
        var current = Volatile.Read(ref _current);
        if (current is not null && !Failed(current))
        {
            return current;
        }

        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_current is null || Failed(_current))
            {
                _current = ConnectAsync();
            }

            return _current;
        }
    }

    // Canceled counts: a ConnectionFactory may end with its token's cancellation.
    private static bool Failed(Task connecting) => connecting.IsFaulted || connecting.IsCanceled;

    /// <summary>
    /// Lets a fresh multiplexer learn which nodes answer before it is swapped in. When a node accepts
    /// connections but never answers (a black hole), StackExchange.Redis 1.2.6 spends its whole connect
    /// timeout waiting for it, then checks the nodes it discovered with no time left and marks every
    /// one "did not respond" until its next heartbeat, about a second later. Swapped in at once, such a
    /// multiplexer sends the healthy masters' slots to replicas (READONLY) or nowhere ("No connection
    /// is available"). One reconfiguration that waits for the nodes' replies clears that; the current
    /// multiplexer keeps serving meanwhile, and past the deadline the fresh one is swapped in as it is.
    /// </summary>
    private async Task SettleAsync(ConnectionMultiplexer multiplexer)
    {
        var started = _time.GetTimestamp();
        var deadline = SettleDeadline(multiplexer);
        try
        {
            while (true)
            {
                var left = deadline - _time.GetElapsedTime(started);

                // False: another reconfiguration (e.g. after a failed connect) is under way; ours runs after it.
                if (left <= TimeSpan.Zero || await multiplexer.ConfigureAsync().WaitAsync(left, _time).ConfigureAwait(false))
                {
                    return;
                }

                await Task.Delay(SettleRetryDelay, _time).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is TimeoutException or RedisException)
        {
            // Out of time, or the reconfiguration failed: swap it in as it is.
        }
    }

    // Two connect timeouts: ConfigureAsync waits one for the nodes' replies, and may first wait for a reconfiguration under way.
    private static TimeSpan SettleDeadline(ConnectionMultiplexer multiplexer)
    {
        try
        {
            return TimeSpan.FromMilliseconds(2 * ConfigurationOptions.Parse(multiplexer.Configuration).ConnectTimeout);
        }
        catch (ArgumentException)
        {
            return TimeSpan.FromMilliseconds(2 * DefaultConnectTimeoutMilliseconds);
        }
    }

    /// <summary>
    /// Connects within three connect timeouts (the client waits one for the seed nodes and one for
    /// those they name). 1.2.6's connect asks a node for CLUSTER NODES with no deadline of its own,
    /// so a node that accepts the connection and then never answers would otherwise hold this
    /// attempt, and every reconnect after it, forever. A multiplexer that arrives late is disposed.
    /// </summary>
    private async Task<MultiplexerGeneration> ConnectAsync()
    {
        var number = Interlocked.Increment(ref _generations);
        var configuration = _options.ConnectionFactory is null ? RedisConfiguration.Create(_options) : null;
        var deadline = 3 * TimeSpan.FromMilliseconds(configuration?.ConnectTimeout ?? DefaultConnectTimeoutMilliseconds);
        using var expired = new CancellationTokenSource(deadline, _time);
        var connecting = configuration is null
            ? _options.ConnectionFactory!(expired.Token)
            : ConnectionMultiplexer.ConnectAsync(configuration);
        try
        {
            return new MultiplexerGeneration(number, await connecting.WaitAsync(deadline, _time).ConfigureAwait(false));
        }
        catch (Exception ex) when (ex is TimeoutException || (ex is OperationCanceledException && expired.IsCancellationRequested))
        {
            _ = connecting.ContinueWith(
                static late => late.Result.Dispose(),
                CancellationToken.None,
                TaskContinuationOptions.OnlyOnRanToCompletion,
                TaskScheduler.Default);
            Observe(connecting);
            throw new TimeoutException($"Connecting to Redis took longer than {deadline.TotalSeconds:0.#} s.");
        }
    }

    private TimeSpan TimeLeft(long started) => _options.OperationTimeout - _time.GetElapsedTime(started);

    private async Task<T> Bounded<T>(Task<T> call, long started, CancellationToken cancellationToken)
    {
        var left = TimeLeft(started);
        if (left <= TimeSpan.Zero)
        {
            Observe(call);
            throw new TimeoutException("The Redis call missed its deadline.");
        }

        try
        {
            return await call.WaitAsync(left, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            Observe(call);
            throw;
        }
    }

    // An abandoned call may still fail later; observe it so that it never surfaces as unobserved.
    private static void Observe(Task call)
        => call.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, EventName = "ScriptReloaded", Level = LogLevel.Information, Message = "A Redis node did not know the rate-limit script (NOSCRIPT); sent its source once.")]
        public static partial void ScriptReloaded(ILogger logger);

        [LoggerMessage(EventId = 2, EventName = "Reconnecting", Level = LogLevel.Warning, Message = "The Redis multiplexer (generation {Generation}) looks stuck ({Reason}); replacing it.")]
        public static partial void Reconnecting(ILogger logger, string reason, int generation);

        [LoggerMessage(EventId = 3, EventName = "Reconnected", Level = LogLevel.Warning, Message = "Replaced the Redis multiplexer ({Reason}); now on generation {Generation}.")]
        public static partial void Reconnected(ILogger logger, string reason, int generation);

        [LoggerMessage(EventId = 4, EventName = "ReconnectFailed", Level = LogLevel.Error, Message = "Replacing the Redis multiplexer ({Reason}) failed; the current one stays in use.")]
        public static partial void ReconnectFailed(ILogger logger, string reason, Exception exception);
    }
}
