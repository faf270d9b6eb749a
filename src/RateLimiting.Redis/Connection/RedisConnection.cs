using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using RateLimiting.Redis.Diagnostics;
using RateLimiting.Redis.Resilience;
using RateLimiting.Redis.Store;
using RateLimiting.Store;
using StackExchange.Redis;

namespace RateLimiting.Redis.Connection;

/// <summary>
/// The seam around StackExchange.Redis. It owns the multiplexer, bounds every call with
/// <see cref="RedisStoreOptions.OperationTimeout"/> (2.x times sent async commands out only at its
/// 1 s heartbeat, and backlogged ones against SyncTimeout), runs scripts by SHA (sending the source
/// on NOSCRIPT), retries what a resharding cluster answers (TRYAGAIN, a MOVED to another node)
/// within the deadline, answers at once for a master whose breaker is open
/// (<see cref="MasterBreakers"/>), and replaces the multiplexer when callers' faults show it is
/// stuck (<see cref="FaultDetector"/>): one reconnect at a time, seeded with every node the stuck
/// one knows, swapped atomically once it serves at least as many slots, the old one closed once
/// its calls have drained.
/// </summary>
/// <remarks>
/// Scripts run by their SHA1 as bytes rather than through the client's script cache: the
/// <c>ScriptEvaluateAsync(string)</c> overload, which handles NOSCRIPT itself, hashes the whole
/// 5 KB script text on every call to find it (about 5 µs here, more than a third of the client's
/// own CPU per call).
/// </remarks>
internal sealed partial class RedisConnection : IAsyncDisposable
{
    // The client's own default, for a ConnectionFactory's multiplexer whose configuration is not known before it exists.
    private const int DefaultConnectTimeoutMilliseconds = 5000;

    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan CoverageRetryDelay = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan MinimumProbeTimeout = TimeSpan.FromSeconds(1);

    private readonly RedisStoreOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly FaultDetector _faults;
    private readonly RedisConnectionDiagnostics _diagnostics;
    private readonly MasterBreakers _breakers;
    private readonly ClientFailureListener _clientFailures;
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
        _breakers = new MasterBreakers(options.Resilience, _time, logger, ProbeAsync);
        _clientFailures = new ClientFailureListener(_diagnostics.OnFailure);
    }

    /// <summary>Raised after a reconnect kept the multiplexer in use because the fresh one served fewer slots, with the reason.</summary>
    public event Action<string>? ReconnectDeclined;

    /// <summary>Raised after a stuck multiplexer was replaced, with the reason (<c>moved_loop</c>, <c>persistent_connection_errors</c>, <c>persistent_timeouts</c>).</summary>
    public event Action<string>? Reconnected;

    /// <summary>Raised for every MOVED naming the node the command was sent to.</summary>
    public event Action? MovedLoopDetected;

    /// <summary>Gets the circuit breakers, one per master and one for no connection at all.</summary>
    public MasterBreakers Breakers => _breakers;

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
        if (Volatile.Read(ref _current) is { IsCompletedSuccessfully: true } connected)
        {
            // Connected (the usual case): no deadline task for what is already there.
            generation = connected.Result;
        }
        else
        {
            ThrowIfOpen(_breakers.NoConnection);
            try
            {
                generation = await Bounded(GetGenerationAsync(), started, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                // Still connecting (or the factory failed): a failure for health, nothing to replace yet.
                MarkFailure();
                _diagnostics.OnFailure(ex);
                _breakers.RecordFailure(_breakers.NoConnection, started, () => CauseOf(ex));
                throw;
            }
        }

        var breaker = _breakers.For(generation.Multiplexer, redisKeys[0]);
        ThrowIfOpen(breaker);
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
                    breaker.RecordSuccess();
                    OnSuccess();
                    return (long[])result!;
                }
                catch (RedisServerException ex) when (!sendSource && RedisErrorClassifier.IsNoScript(ex))
                {
                    // A node that never saw the script: a new or failed-over master, or SCRIPT FLUSH.
                    Log.ScriptReloaded(_logger);
                    sendSource = true;
                }
                catch (RedisServerException ex) when (RedisErrorClassifier.IsResharding(ex, generation.IsRoutedTo) && TimeLeft(started) > RetryDelay)
                {
                    await Task.Delay(RetryDelay, _time, cancellationToken).ConfigureAwait(false);
                }
            }
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            OnFault(generation, (breaker, started), ex);
            throw;
        }
        finally
        {
            generation.Exit();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _breakers.DisposeAsync().ConfigureAwait(false);
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

    private void MarkFailure()
    {
        var now = _time.GetTimestamp();
        if (Volatile.Read(ref _lastFailure) <= Volatile.Read(ref _lastSuccess))
        {
            Volatile.Write(ref _failingSince, now);
        }

        Volatile.Write(ref _lastFailure, now);
    }

    private void OnSuccess()
    {
        _faults.RecordSuccess();
        Volatile.Write(ref _lastSuccess, _time.GetTimestamp());
        _diagnostics.OnSuccess();
    }

    private void OnFault(MultiplexerGeneration generation, (MasterBreaker Breaker, long StartedAt)? decision, Exception exception)
    {
        var kind = RedisErrorClassifier.Classify(exception, generation.IsRoutedTo);
        MarkFailure();
        if (kind == RedisFaultKind.MovedLoop)
        {
            MovedLoopDetected?.Invoke();
        }

        if (decision is { } failed && RedisErrorClassifier.IsUnanswered(exception))
        {
            _breakers.RecordFailure(failed.Breaker, failed.StartedAt, () => CauseOf(exception));
        }

        if (_faults.RecordFault(kind) is { } reason)
        {
            TryReconnect(generation, reason);
        }

        // A set-up mistake (password, certificate, TLS) gets one log event naming it.
        _diagnostics.OnFailure(exception);
    }

    private string CauseOf(Exception exception) => _diagnostics.CurrentProblem ?? RedisErrorClassifier.CauseOf(exception);

    private static void ThrowIfOpen(MasterBreaker breaker)
    {
        if (breaker.IsOpen)
        {
            throw new RateLimitStoreUnavailableException(breaker.OpenMessage);
        }
    }

    /// <summary>
    /// A breaker's probe: a read-only keyed call within the operation timeout, on the multiplexer in
    /// use, answered when the master replied (an error of its own included). Its faults count like
    /// a decision's towards replacing a stuck multiplexer, so that an open breaker, which spares
    /// the master the decisions, does not hide a multiplexer only a reconnect heals.
    /// </summary>
    private async Task<bool> ProbeAsync(RedisKey key, CommandFlags flags)
    {
        var started = _time.GetTimestamp();
        MultiplexerGeneration generation;
        try
        {
            generation = await Bounded(GetGenerationAsync(), started, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or InvalidOperationException or ArgumentException or OperationCanceledException)
        {
            MarkFailure();
            _diagnostics.OnFailure(ex);
            return false;
        }
        catch (ObjectDisposedException)
        {
            return false; // shutting down
        }

        generation.Enter();
        try
        {
            await Bounded(generation.Multiplexer.GetDatabase().KeyExistsAsync(key, flags), started, CancellationToken.None).ConfigureAwait(false);
            OnSuccess();
            return true;
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
        {
            OnFault(generation, decision: null, ex);
            return RedisErrorClassifier.IsAnsweredByOwner(ex);
        }
        finally
        {
            generation.Exit();
        }
    }

    /// <summary>Replaces <paramref name="stuck"/> in the background unless a reconnect is under way; false when one is.</summary>
    internal bool TryReconnect(MultiplexerGeneration stuck, string reason)
    {
        if (Interlocked.CompareExchange(ref _reconnecting, 1, 0) != 0)
        {
            return false;
        }

        Log.Reconnecting(_logger, reason, stuck.Number);
        _ = Task.Run(() => ReconnectAsync(stuck, reason));
        return true;
    }

    private async Task ReconnectAsync(MultiplexerGeneration stuck, string reason)
    {
        try
        {
            var fresh = await ConnectAsync(stuck).ConfigureAwait(false);
            var (served, servedBefore) = await CompareCoverageAsync(fresh, stuck).ConfigureAwait(false);
            Task closing;
            bool swapped;
            lock (_gate)
            {
                // Swap only what the faults were seen on, for one that serves some slots and no fewer;
                // shutting down, already replaced, or no better: drop the new one.
                swapped = !_disposed && ServesEnough(served, servedBefore) && !ReferenceEquals(fresh.Multiplexer, stuck.Multiplexer)
                    && _current is { IsCompletedSuccessfully: true } current && current.Result == stuck;
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
                _breakers.ProbeNow();
            }
            else
            {
                Log.ReconnectDeclined(_logger, reason, served, servedBefore);
                ReconnectDeclined?.Invoke(reason);
            }

            await closing.ConfigureAwait(false);
            lock (_gate)
            {
                _closing.Remove(closing);
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or InvalidOperationException or ArgumentException or OperationCanceledException)
        {
            Log.ReconnectFailed(_logger, reason, ex);
        }
        finally
        {
            Volatile.Write(ref _reconnecting, 0);
        }
    }

    /// <summary>
    /// How many slots the fresh multiplexer serves, waiting until it serves as many as the stuck one
    /// or two connect timeouts have passed: a fresh multiplexer may still be reaching some nodes
    /// (a black-holed one holds its first reconfiguration for a whole connect timeout), and the
    /// stuck one keeps serving meanwhile.
    /// </summary>
    private async Task<(int Served, int ServedBefore)> CompareCoverageAsync(MultiplexerGeneration fresh, MultiplexerGeneration stuck)
    {
        var probeTimeout = _options.OperationTimeout > MinimumProbeTimeout ? _options.OperationTimeout : MinimumProbeTimeout;
        var servedBefore = await SlotCoverage.MeasureAsync(stuck.Multiplexer, probeTimeout, _time).ConfigureAwait(false);
        var deadline = 2 * ConnectTimeoutOf(fresh.Multiplexer);
        var started = _time.GetTimestamp();
        while (true)
        {
            var served = await SlotCoverage.MeasureAsync(fresh.Multiplexer, probeTimeout, _time).ConfigureAwait(false);
            if (ServesEnough(served, servedBefore) || _time.GetElapsedTime(started) >= deadline)
            {
                return (served, servedBefore);
            }

            await Task.Delay(CoverageRetryDelay, _time).ConfigureAwait(false);
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

    private static bool ServesEnough(int served, int servedBefore) => served > 0 && served >= servedBefore;

    private static TimeSpan ConnectTimeoutOf(IConnectionMultiplexer multiplexer)
    {
        try
        {
            return TimeSpan.FromMilliseconds(ConfigurationOptions.Parse(multiplexer.Configuration).ConnectTimeout);
        }
        catch (ArgumentException)
        {
            return TimeSpan.FromMilliseconds(DefaultConnectTimeoutMilliseconds);
        }
    }

    /// <summary>
    /// Connects within three connect timeouts (the client waits one for the seed nodes and one for
    /// those they name); a multiplexer that arrives later is disposed, so that a node that accepts
    /// connections and then never answers cannot hold this attempt, and every reconnect after it.
    /// A reconnect seeds the fresh multiplexer with every node <paramref name="replacing"/> knows as
    /// well as the configured endpoints: after a managed cluster replaced its nodes, the configured
    /// ones may all be gone.
    /// </summary>
    private async Task<MultiplexerGeneration> ConnectAsync(MultiplexerGeneration? replacing = null)
    {
        var number = Interlocked.Increment(ref _generations);
        var configuration = _options.ConnectionFactory is null ? RedisConfiguration.Create(_options, _diagnostics.OnCertificateRejected) : null;
        if (configuration is not null)
        {
            configuration.LoggerFactory = _clientFailures;
            foreach (var endpoint in replacing is null ? [] : SlotCoverage.KnownEndPoints(replacing.Multiplexer))
            {
                configuration.EndPoints.TryAdd(endpoint);
            }
        }

        var deadline = 3 * TimeSpan.FromMilliseconds(configuration?.ConnectTimeout ?? DefaultConnectTimeoutMilliseconds);
        using var expired = new CancellationTokenSource(deadline, _time);
        var connecting = configuration is null
            ? _options.ConnectionFactory!(expired.Token)
            : ConnectOwnedAsync(configuration);
        try
        {
            var multiplexer = await connecting.WaitAsync(deadline, _time).ConfigureAwait(false);
            _diagnostics.Attach(multiplexer);
            return new MultiplexerGeneration(number, multiplexer, owned: configuration is not null);
        }
        catch (Exception ex) when (ex is TimeoutException || (ex is OperationCanceledException && expired.IsCancellationRequested))
        {
            // The wait and the token share a deadline; whichever timer ran first, the factory is told.
            await expired.CancelAsync().ConfigureAwait(false);
            if (configuration is not null)
            {
                _ = connecting.ContinueWith(
                    static late => late.Result.Dispose(),
                    CancellationToken.None,
                    TaskContinuationOptions.OnlyOnRanToCompletion,
                    TaskScheduler.Default);
            }

            AbandonedCall.Observe(connecting);
            throw new TimeoutException($"Connecting to Redis took longer than {deadline.TotalSeconds:0.#} s.");
        }
    }

    private static async Task<IConnectionMultiplexer> ConnectOwnedAsync(ConfigurationOptions configuration)
        => await ConnectionMultiplexer.ConnectAsync(configuration).ConfigureAwait(false);

    private TimeSpan TimeLeft(long started) => _options.OperationTimeout - _time.GetElapsedTime(started);

    private async Task<T> Bounded<T>(Task<T> call, long started, CancellationToken cancellationToken)
    {
        var left = TimeLeft(started);
        if (left <= TimeSpan.Zero)
        {
            ObserveAbandoned(call);
            throw new TimeoutException("The Redis call missed its deadline.");
        }

        try
        {
            return await call.WaitAsync(left, _time, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
        {
            ObserveAbandoned(call);
            throw;
        }
    }

    /// <summary>
    /// A call we stopped waiting for may still fail, later, saying why: a command the client kept in
    /// its backlog while it could not connect fails with the connection's last error (a refused
    /// password, a closed handshake), which the diagnostics name.
    /// </summary>
    private void ObserveAbandoned(Task call)
        => call.ContinueWith(
            static (t, diagnostics) => ((RedisConnectionDiagnostics)diagnostics!).OnFailure(t.Exception!.InnerException ?? t.Exception),
            _diagnostics,
            CancellationToken.None,
            TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously,
            TaskScheduler.Default);

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, EventName = "ScriptReloaded", Level = LogLevel.Information, Message = "A Redis node did not know the rate-limit script (NOSCRIPT); sent its source once.")]
        public static partial void ScriptReloaded(ILogger logger);

        [LoggerMessage(EventId = 2, EventName = "Reconnecting", Level = LogLevel.Warning, Message = "The Redis multiplexer (generation {Generation}) looks stuck ({Reason}); replacing it.")]
        public static partial void Reconnecting(ILogger logger, string reason, int generation);

        [LoggerMessage(EventId = 3, EventName = "Reconnected", Level = LogLevel.Warning, Message = "Replaced the Redis multiplexer ({Reason}); now on generation {Generation}.")]
        public static partial void Reconnected(ILogger logger, string reason, int generation);

        [LoggerMessage(EventId = 5, EventName = "ReconnectDeclined", Level = LogLevel.Warning, Message = "Kept the Redis multiplexer in use ({Reason}): a fresh one served {Served} slots against its {ServedBefore}.")]
        public static partial void ReconnectDeclined(ILogger logger, string reason, int served, int servedBefore);

        [LoggerMessage(EventId = 4, EventName = "ReconnectFailed", Level = LogLevel.Error, Message = "Replacing the Redis multiplexer ({Reason}) failed; the current one stays in use.")]
        public static partial void ReconnectFailed(ILogger logger, string reason, Exception exception);
    }
}
