using System.Diagnostics.Metrics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using NodaTime;
using RateLimiting.Redis.Diagnostics;
using RateLimiting.Redis.Health;
using RateLimiting.Redis.Resilience;
using RateLimiting.Redis.Store;
using RateLimiting.Redis.Telemetry;
using RateLimiting.Store;
using StackExchange.Redis;

namespace RateLimiting.Redis.Connection;

/// <summary>
/// The call path into StackExchange.Redis: every call within its <see cref="CallDeadline"/>,
/// scripts run by SHA (the source sent on NOSCRIPT), what a resharding cluster answers (TRYAGAIN,
/// a MOVED to another node) retried within the deadline, an open breaker's master answered at once
/// (<see cref="MasterBreakers"/>), and every fault told to the <see cref="FaultDetector"/>, whose
/// verdict the <see cref="MultiplexerSupervisor"/> acts on.
/// </summary>
/// <remarks>
/// Scripts run by their SHA1 as bytes rather than through the client's script cache: the
/// <c>ScriptEvaluateAsync(string)</c> overload, which handles NOSCRIPT itself, hashes the whole
/// 5 KB script text on every call to find it (about 5 µs here, more than a third of the client's
/// own CPU per call).
/// </remarks>
internal sealed partial class RedisConnection : IAsyncDisposable
{
    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(5);

    private readonly ILogger _logger;
    private readonly CallDeadline _deadline;
    private readonly FaultDetector _faults;
    private readonly RedisConnectionDiagnostics _diagnostics;
    private readonly RedisMetrics? _metrics;

    /// <param name="options">The store's options.</param>
    /// <param name="logger">Logs connection events.</param>
    /// <param name="clock">Times calls, faults and breakers.</param>
    /// <param name="meterFactory">Creates the instruments; none when <see langword="null"/>.</param>
    public RedisConnection(RedisStoreOptions options, ILogger logger, IClock clock, IMeterFactory? meterFactory)
    {
        _logger = logger;
        _diagnostics = new RedisConnectionDiagnostics(options, logger, clock);
        _deadline = new CallDeadline(options.OperationTimeout, clock, _diagnostics.OnFailure);
        _faults = new FaultDetector(options.Resilience, clock);
        Breakers = new MasterBreakers(options.Resilience, clock, logger, ProbeAsync);
        Health = new ConnectionHealth(clock, Breakers);
        _metrics = meterFactory is null ? null : new RedisMetrics(meterFactory, Health);
        Supervisor = new MultiplexerSupervisor(options.OperationTimeout, new MultiplexerConnector(options, _diagnostics), logger, _metrics, Breakers.ProbeNow);
    }

    /// <summary>Gets the circuit breakers, one per master and one for no connection at all.</summary>
    public MasterBreakers Breakers { get; }

    public MultiplexerSupervisor Supervisor { get; }

    public ConnectionHealth Health { get; }

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

    public async ValueTask DisposeAsync()
    {
        await Breakers.DisposeAsync().ConfigureAwait(false);
        await Supervisor.DisposeAsync().ConfigureAwait(false);
    }

    private static void ThrowIfOpen(MasterBreaker breaker)
    {
        if (breaker.IsOpen)
        {
            throw new RateLimitStoreUnavailableException(breaker.OpenMessage);
        }
    }

    [AsyncMethodBuilder(typeof(PoolingAsyncValueTaskMethodBuilder<>))]
    private async ValueTask<long[]> EvaluateCoreAsync(RedisScript script, RedisKey[] redisKeys, RedisValue[] redisArgs, CancellationToken cancellationToken)
    {
        var started = _deadline.Start();
        var generation = Supervisor.Current;
        if (generation is null)
        {
            ThrowIfOpen(Breakers.NoConnection);
            try
            {
                generation = await _deadline.BoundAsync(Supervisor.GetAsync(), started, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
            {
                // Still connecting (or the factory failed): a failure for health, nothing to replace yet.
                Health.RecordFailure();
                _diagnostics.OnFailure(ex);
                Breakers.RecordFailure(Breakers.NoConnection, started, () => CauseOf(ex));
                throw;
            }
        }

        var breaker = Breakers.For(generation.Multiplexer, redisKeys[0]);
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
                    var reply = RedisScript.IntegersOf(await _deadline.BoundAsync(call, started, cancellationToken).ConfigureAwait(false));
                    breaker.RecordSuccess();
                    OnSuccess();
                    return reply;
                }
                catch (RedisServerException ex) when (!sendSource && RedisErrorClassifier.IsNoScript(ex))
                {
                    // A node that never saw the script: a new or failed-over master, or SCRIPT FLUSH.
                    Log.ScriptReloaded(_logger);
                    sendSource = true;
                }
                catch (RedisServerException ex) when (RedisErrorClassifier.IsResharding(ex, generation.IsRoutedTo) && _deadline.Left(started) > RetryDelay)
                {
                    await Task.Delay(RetryDelay, cancellationToken).ConfigureAwait(false);
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

    private void OnSuccess()
    {
        _faults.RecordSuccess();
        Health.RecordSuccess();
        _diagnostics.OnSuccess();
    }

    private void OnFault(MultiplexerGeneration generation, (MasterBreaker Breaker, Instant StartedAt)? decision, Exception exception)
    {
        var kind = RedisErrorClassifier.Classify(exception, generation.IsRoutedTo);
        Health.RecordFailure();
        if (kind == RedisFaultKind.MovedLoop)
        {
            _metrics?.MovedLoop();
        }

        if (decision is { } failed && RedisErrorClassifier.IsUnanswered(exception))
        {
            Breakers.RecordFailure(failed.Breaker, failed.StartedAt, () => CauseOf(exception));
        }

        if (_faults.RecordFault(kind) is { } reason)
        {
            Supervisor.TryReconnect(generation, reason);
        }

        // A set-up mistake (password, certificate, TLS) gets one log event naming it.
        _diagnostics.OnFailure(exception);
    }

    private string CauseOf(Exception exception) => _diagnostics.CurrentProblem ?? RedisErrorClassifier.CauseOf(exception);

    /// <summary>
    /// A breaker's probe: a read-only keyed call within the operation timeout, on the multiplexer in
    /// use, answered when the master replied (an error of its own included). Its faults count like
    /// a decision's towards replacing a stuck multiplexer, so that an open breaker, which spares
    /// the master the decisions, does not hide a multiplexer only a reconnect heals.
    /// </summary>
    private async Task<bool> ProbeAsync(RedisKey key, CommandFlags flags)
    {
        var started = _deadline.Start();
        MultiplexerGeneration generation;
        try
        {
            generation = await _deadline.BoundAsync(Supervisor.GetAsync(), started, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or InvalidOperationException or ArgumentException or OperationCanceledException)
        {
            Health.RecordFailure();
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
            await _deadline.BoundAsync(generation.Multiplexer.GetDatabase().KeyExistsAsync(key, flags), started, CancellationToken.None).ConfigureAwait(false);
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

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, EventName = "ScriptReloaded", Level = LogLevel.Information, Message = "A Redis node did not know the rate-limit script (NOSCRIPT); sent its source once.")]
        public static partial void ScriptReloaded(ILogger logger);
    }
}
