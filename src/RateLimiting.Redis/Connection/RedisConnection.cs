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
/// The call path into StackExchange.Redis: every call within its <see cref="CallDeadline"/>, run
/// by the <see cref="ScriptRunner"/>, batched per master by the <see cref="CallBatcher"/> unless
/// <see cref="RedisStoreOptions.Batching"/> is off, an open breaker's master answered at once
/// (<see cref="MasterBreakers"/>), and every decision's fault told to the <see cref="FaultDetector"/>,
/// whose verdict the <see cref="MultiplexerSupervisor"/> acts on.
/// </summary>
internal sealed class RedisConnection : IAsyncDisposable
{
    private readonly CallDeadline _deadline;
    private readonly ScriptRunner _runner;
    private readonly FaultDetector _faults;
    private readonly RedisConnectionDiagnostics _diagnostics;
    private readonly RedisMetrics? _metrics;

    /// <param name="options">The store's options.</param>
    /// <param name="logger">Logs connection events.</param>
    /// <param name="clock">Times calls, faults and breakers.</param>
    /// <param name="meterFactory">Creates the instruments; none when <see langword="null"/>.</param>
    public RedisConnection(RedisStoreOptions options, ILogger logger, IClock clock, IMeterFactory? meterFactory)
    {
        _diagnostics = new RedisConnectionDiagnostics(options, logger, clock);
        Notices = new AdminNotices(options.KeyPrefix, logger);
        _deadline = new CallDeadline(options.OperationTimeout, clock, _diagnostics.OnFailure);
        _runner = new ScriptRunner(_deadline, logger);
        _faults = new FaultDetector(options.Resilience, clock);
        Breakers = new MasterBreakers(options.Resilience, clock, logger, ProbeAsync);
        Health = new ConnectionHealth(clock, Breakers);
        _metrics = meterFactory is null ? null : new RedisMetrics(meterFactory, Health);
        Supervisor = new MultiplexerSupervisor(options.OperationTimeout, new MultiplexerConnector(options, _diagnostics, Notices.Subscribe), logger, _metrics, Breakers.ProbeNow);
        Batcher = options.Batching ? new CallBatcher(_runner, _deadline, () => Supervisor.Current, logger, _metrics) : null;
    }

    /// <summary>Gets what every instance hears of partitions reset or given a temporary limit, subscribed on every multiplexer.</summary>
    public AdminNotices Notices { get; }

    /// <summary>Gets the circuit breakers, one per master and one for no connection at all.</summary>
    public MasterBreakers Breakers { get; }

    public MultiplexerSupervisor Supervisor { get; }

    public ConnectionHealth Health { get; }

    /// <summary>Gets the per-master batching; null when <see cref="RedisStoreOptions.Batching"/> is off.</summary>
    public CallBatcher? Batcher { get; }

    /// <summary>Runs <paramref name="script"/> on the slot of <paramref name="keys"/>, alone or batched with other calls for its master, and returns its integer array reply.</summary>
    public ValueTask<long[]> EvaluateAsync(BatchableScript script, ReadOnlySpan<string> keys, ReadOnlySpan<long> args, CancellationToken cancellationToken)
    {
        var redisArgs = new RedisValue[args.Length];
        for (var i = 0; i < args.Length; i++)
        {
            redisArgs[i] = args[i];
        }

        return EvaluateAsync(script, keys, redisArgs, cancellationToken);
    }

    /// <summary>As the overload of integer arguments, with arguments of any kind (a channel name, a policy name).</summary>
    public ValueTask<long[]> EvaluateAsync(BatchableScript script, ReadOnlySpan<string> keys, RedisValue[] args, CancellationToken cancellationToken)
    {
        var redisKeys = new RedisKey[keys.Length];
        for (var i = 0; i < keys.Length; i++)
        {
            redisKeys[i] = keys[i];
        }

        return EvaluateCoreAsync(script, redisKeys, args, cancellationToken);
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
    private async ValueTask<long[]> EvaluateCoreAsync(BatchableScript script, RedisKey[] redisKeys, RedisValue[] redisArgs, CancellationToken cancellationToken)
    {
        var started = _deadline.Start();
        var generation = Supervisor.Current ?? await ConnectAsync(started, cancellationToken).ConfigureAwait(false);
        var breaker = Breakers.For(generation.Multiplexer, redisKeys[0]);
        ThrowIfOpen(breaker);
        if (Batcher is { IsSupported: true } && script.Batch is not null && !ReferenceEquals(breaker, Breakers.NoConnection)
            && await EvaluateBatchedAsync(generation, breaker, new BatchMember(script, redisKeys, redisArgs, started), cancellationToken).ConfigureAwait(false) is { } verdict)
        {
            return verdict;
        }

        generation.Enter();
        try
        {
            var reply = await _runner.RunOnSlotAsync(generation, script.One, redisKeys, redisArgs, started, cancellationToken).ConfigureAwait(false);
            OnSuccess(breaker);
            return reply;
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

    /// <summary>The verdict of <paramref name="member"/>, sent with the other calls for its master; null when it is to be decided alone.</summary>
    private async Task<long[]?> EvaluateBatchedAsync(MultiplexerGeneration generation, MasterBreaker breaker, BatchMember member, CancellationToken cancellationToken)
    {
        Batcher!.Enqueue(breaker, generation, member);
        try
        {
            var verdict = await _deadline.BoundAsync(member.Reply, member.Started, cancellationToken).ConfigureAwait(false);
            if (verdict is not null)
            {
                OnSuccess(breaker);
            }

            return verdict;
        }
        catch (Exception ex)
        {
            member.Abandon();
            if (!cancellationToken.IsCancellationRequested)
            {
                OnFault(generation, (breaker, member.Started), ex);
            }

            throw;
        }
    }

    /// <summary>A multiplexer, for the first call or the first after a failed connect.</summary>
    private async Task<MultiplexerGeneration> ConnectAsync(Instant started, CancellationToken cancellationToken)
    {
        ThrowIfOpen(Breakers.NoConnection);
        try
        {
            return await _deadline.BoundAsync(Supervisor.GetAsync(), started, cancellationToken).ConfigureAwait(false);
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

    /// <summary>Records an answered call: a decision (on <paramref name="breaker"/>) or a probe.</summary>
    private void OnSuccess(MasterBreaker? breaker)
    {
        breaker?.RecordSuccess();
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
            OnSuccess(breaker: null);
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
}
