using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using NodaTime;
using RateLimiting.Redis.Connection;
using StackExchange.Redis;

namespace RateLimiting.Redis.Resilience;

/// <summary>
/// One <see cref="MasterBreaker"/> per master, and one for "no connection at all" (no multiplexer
/// yet, or one that knows no master: a refused password, an untrusted certificate). Finds the
/// breaker of a decision from its key's slot, opens it on repeated failures, and while it is open
/// runs one probe at a time against that master, a keyed read that is never redirected, until
/// one is answered. Probes are ordinary calls for the rest of the layer: their faults count towards
/// replacing a stuck multiplexer. A swapped-in multiplexer, a connection the client restored, or a
/// topology change it reports (a failover, a slot that moved) probes every open breaker at once,
/// except those of flapping masters, whose longer first wait is the point.
/// </summary>
internal sealed partial class MasterBreakers : IAsyncDisposable
{
    public const string NoConnectionName = "connection";

    private const CommandFlags MasterProbeFlags = CommandFlags.DemandMaster | CommandFlags.NoRedirect;
    private static readonly RedisKey AnyKey = "rl-probe";
    private static readonly Duration TopologyRefreshInterval = Duration.FromSeconds(1);

    private readonly RedisResilienceOptions _options;
    private readonly IClock _clock;
    private readonly ILogger _logger;
    private readonly Func<RedisKey, CommandFlags, Task<bool>> _probe;
    private readonly BreakerMap _map;
    private readonly ConcurrentDictionary<Task, byte> _probing = new();
    private readonly ConcurrentDictionary<MasterBreaker, RedisKey> _probeKeys = new();
    private readonly CancellationTokenSource _stopping = new();
    private TaskCompletionSource _wake = NewWake();
    private Instant _topologyRefreshedAt = Instant.MinValue;
    private int _refreshingTopology;

    /// <summary>Creates the breakers; <paramref name="probe"/> asks Redis a read-only question about a key, routed by the flags, and says whether it was answered in time.</summary>
    public MasterBreakers(RedisResilienceOptions options, IClock clock, ILogger logger, Func<RedisKey, CommandFlags, Task<bool>> probe)
    {
        _options = options;
        _clock = clock;
        _logger = logger;
        _probe = probe;
        _map = new BreakerMap(options, clock, Wake);
        NoConnection = new MasterBreaker(NoConnectionName, endpoint: null, options, clock);
    }

    public MasterBreaker NoConnection { get; }

    /// <summary>Gets the names of the open breakers.</summary>
    public IReadOnlyList<string> OpenNames => [.. All().Where(breaker => breaker.IsOpen).Select(breaker => breaker.Name)];

    public int OpenCount => All().Count(breaker => breaker.IsOpen);

    /// <summary>Gets how many times any breaker opened.</summary>
    public long Openings => All().Sum(breaker => breaker.Openings);

    /// <summary>The breaker guarding <paramref name="key"/> on <paramref name="multiplexer"/>.</summary>
    public MasterBreaker For(IConnectionMultiplexer multiplexer, in RedisKey key) => _map.For(multiplexer, key) ?? NoConnection;

    /// <summary>Records a failed decision on <paramref name="breaker"/>, sent at <paramref name="startedAt"/>; the one that opens it logs <paramref name="cause"/> and starts the probes.</summary>
    public void RecordFailure(MasterBreaker breaker, Instant startedAt, Func<string> cause)
    {
        if (!breaker.RecordFailure(startedAt, cause))
        {
            return;
        }

        Log.BreakerOpened(_logger, breaker.Name, breaker.Cause, _options.BreakerFailureThreshold);

        // A master that stops answering may have stopped being one: the next decision reads the
        // views again, in which a connected new owner of its slots wins.
        _map.Invalidate();
        if (!_stopping.IsCancellationRequested)
        {
            var probing = Task.Run(() => ProbeWhileOpenAsync(breaker));
            _probing.TryAdd(probing, 0);
            _ = probing.ContinueWith(done => _probing.TryRemove(done, out _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    /// <summary>Probes every open breaker now: a fresh multiplexer, or a new topology, may serve them.</summary>
    public void ProbeNow()
    {
        _map.Invalidate();
        Wake();
    }

    // Idempotent (the container disposes the store once per service it is registered as); the
    // token source has no timer, and loops may still read its token, so it is never disposed.
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await Task.WhenAll(_probing.Keys).ConfigureAwait(false);
    }

    private static TaskCompletionSource NewWake() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    private IEnumerable<MasterBreaker> All() => _map.Masters.Append(NoConnection);

    private void Wake() => Interlocked.Exchange(ref _wake, NewWake()).TrySetResult();

    private async Task ProbeWhileOpenAsync(MasterBreaker breaker)
    {
        try
        {
            var delay = breaker.FirstProbeDelay();
            var hastened = !breaker.IsFlapping;
            while (breaker.IsOpen)
            {
                var waited = Task.Delay(delay, _stopping.Token);
                await (hastened ? Task.WhenAny(waited, Volatile.Read(ref _wake).Task) : waited).ConfigureAwait(false);
                hastened = true;
                _stopping.Token.ThrowIfCancellationRequested();
                delay = breaker.NextProbeDelay();
                if (!TryGetProbeTarget(breaker, out var key, out var flags, out var retired))
                {
                    continue; // the map is being rebuilt: next time
                }

                if (retired)
                {
                    // Its slots are served by other masters now: nothing left to guard.
                    Log.BreakerClosed(_logger, breaker.Name, breaker.Close().TotalMilliseconds, "it owns no slots any more");
                    return;
                }

                if (await _probe(key, flags).ConfigureAwait(false))
                {
                    if (ReferenceEquals(breaker, NoConnection))
                    {
                        _map.Invalidate(); // connected: learn the masters now
                    }

                    Log.BreakerClosed(_logger, breaker.Name, breaker.Close().TotalMilliseconds, "a probe was answered");
                    return;
                }

                await RefreshTopologyIfGoneAsync(breaker).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
        {
            // Shutting down.
        }
    }

    /// <summary>
    /// Re-reads the cluster's topology when the client lost its connection to the master behind
    /// <paramref name="breaker"/>: the master may have left the cluster, and the client learns where
    /// its slots went only from the MOVED replies that the open breaker spares it, or from its own
    /// check, a minute apart. One refresh at a time, at most one a second; the next lookup rebuilds
    /// the map, in which the slots may have another owner, and the next probe may retire the breaker.
    /// </summary>
    private async Task RefreshTopologyIfGoneAsync(MasterBreaker breaker)
    {
        var now = _clock.GetCurrentInstant();
        if (breaker.EndPoint is not { } endpoint
            || _map.Current is not { } owners
            || now - _topologyRefreshedAt < TopologyRefreshInterval
            || Interlocked.CompareExchange(ref _refreshingTopology, 1, 0) != 0)
        {
            return;
        }

        try
        {
            if (!owners.Multiplexer.GetServer(endpoint).IsConnected)
            {
                _topologyRefreshedAt = now;
                await owners.Multiplexer.ConfigureAsync().ConfigureAwait(false);
                _map.Invalidate();
            }
        }
        catch (Exception ex) when (ex is RedisException or ObjectDisposedException or InvalidOperationException or ArgumentException or NotSupportedException)
        {
            // A multiplexer being replaced or closed (its successor reads the topology afresh), or one that no longer tracks the node.
        }
        finally
        {
            Volatile.Write(ref _refreshingTopology, 0);
        }
    }

    /// <summary>
    /// What a probe of <paramref name="breaker"/> asks: a key of a slot it guards, never redirected
    /// (any master for "no connection"); <paramref name="retired"/> when it guards none any more;
    /// false while the map is unknown (being rebuilt, or the multiplexer is being closed).
    /// </summary>
    private bool TryGetProbeTarget(MasterBreaker breaker, out RedisKey key, out CommandFlags flags, out bool retired)
    {
        (key, flags, retired) = (AnyKey, CommandFlags.DemandMaster, false);
        if (ReferenceEquals(breaker, NoConnection))
        {
            return true;
        }

        if (_map.Current is not { } owners)
        {
            return false;
        }

        if (owners.SlotOf(breaker) is not { } slot)
        {
            retired = true;
            return true;
        }

        if (slot < 0)
        {
            return true; // a standalone server: any key
        }

        if (!_probeKeys.TryGetValue(breaker, out key) || owners.For(owners.Multiplexer.HashSlot(key)) != breaker)
        {
            key = SlotCoverage.KeyIn(owners.Multiplexer, new SlotRange(slot, slot));
            _probeKeys[breaker] = key;
        }

        flags = MasterProbeFlags;
        return true;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 6, EventName = "BreakerOpened", Level = LogLevel.Warning,
            Message = "Redis {Breaker} is failing ({Cause}, {Failures} decisions in a row): its decisions are answered by their failure mode at once until a probe is answered.")]
        public static partial void BreakerOpened(ILogger logger, string breaker, string cause, int failures);

        [LoggerMessage(EventId = 7, EventName = "BreakerClosed", Level = LogLevel.Information,
            Message = "Redis {Breaker} decides again after {OpenMilliseconds:0} ms: {Why}.")]
        public static partial void BreakerClosed(ILogger logger, string breaker, double openMilliseconds, string why);
    }
}
