using Microsoft.Extensions.Logging;
using RateLimiting.Redis.Connection;
using RateLimiting.Redis.Telemetry;
using StackExchange.Redis;

namespace RateLimiting.Redis.Resilience;

/// <summary>
/// Owns the multiplexer in use: connects on first use (again after a failed attempt), replaces a
/// stuck one when told (one reconnect at a time, seeded with every node the stuck one knows,
/// swapped atomically once the fresh one serves at least as many slots), closes a replaced one
/// once its calls have drained, and everything on dispose.
/// </summary>
/// <param name="operationTimeout">The deadline of one call: a replaced multiplexer's calls drain within two.</param>
/// <param name="connector">Creates the multiplexers.</param>
/// <param name="logger">Logs the reconnects.</param>
/// <param name="metrics">Counts the reconnects; none without a meter factory.</param>
/// <param name="onSwapped">Called after a fresh multiplexer was swapped in.</param>
internal sealed partial class MultiplexerSupervisor(TimeSpan operationTimeout, MultiplexerConnector connector, ILogger logger, RedisMetrics? metrics, Action onSwapped)
    : IAsyncDisposable
{
    private static readonly TimeSpan CoverageRetryDelay = TimeSpan.FromMilliseconds(50);
    private static readonly TimeSpan MinimumProbeTimeout = TimeSpan.FromSeconds(1);

    private readonly object _gate = new();
    private readonly List<Task> _closing = [];
    private Task<MultiplexerGeneration>? _current;
    private int _reconnecting;
    private long _reconnects;
    private bool _disposed;

    /// <summary>Raised after a reconnect kept the multiplexer in use because the fresh one served fewer slots, with the reason.</summary>
    public event Action<string>? ReconnectDeclined;

    /// <summary>Raised after a stuck multiplexer was replaced, with the reason (a <see cref="ReconnectReason"/>).</summary>
    public event Action<string>? Reconnected;

    /// <summary>Gets how many times the multiplexer was replaced.</summary>
    public long Reconnects => Interlocked.Read(ref _reconnects);

    /// <summary>Gets the multiplexer in use, if connected.</summary>
    public MultiplexerGeneration? Current => Volatile.Read(ref _current) is { IsCompletedSuccessfully: true } current ? current.Result : null;

    /// <summary>Gets a value indicating whether a reconnect is under way.</summary>
    public bool IsReconnecting => Volatile.Read(ref _reconnecting) != 0;

    /// <summary>The multiplexer in use, connecting first when there is none (or the last attempt failed).</summary>
    public Task<MultiplexerGeneration> GetAsync()
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
                _current = connector.ConnectAsync();
            }

            return _current;
        }
    }

    /// <summary>Replaces <paramref name="stuck"/> in the background unless a reconnect is under way; false when one is.</summary>
    public bool TryReconnect(MultiplexerGeneration stuck, string reason)
    {
        if (Interlocked.CompareExchange(ref _reconnecting, 1, 0) != 0)
        {
            return false;
        }

        Log.Reconnecting(logger, reason, stuck.Number);
        _ = Task.Run(() => ReconnectAsync(stuck, reason));
        return true;
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
                await generation.DrainAndCloseAsync(TimeSpan.Zero).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException or InvalidOperationException)
            {
                // Shutting down: a multiplexer that never connected has nothing to close.
            }
        }

        await Task.WhenAll(closing).ConfigureAwait(false);
    }

    // Canceled counts: a ConnectionFactory may end with its token's cancellation.
    private static bool Failed(Task connecting) => connecting.IsFaulted || connecting.IsCanceled;

    private static bool ServesEnough(int served, int servedBefore) => served > 0 && served >= servedBefore;

    private async Task ReconnectAsync(MultiplexerGeneration stuck, string reason)
    {
        Task? closing = null;
        try
        {
            var fresh = await connector.ConnectAsync(stuck).ConfigureAwait(false);
            var (served, servedBefore) = await CompareCoverageAsync(fresh, stuck).ConfigureAwait(false);
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

                closing = swapped ? stuck.DrainAndCloseAsync(operationTimeout * 2) : fresh.DrainAndCloseAsync(TimeSpan.Zero);
                _closing.Add(closing);
            }

            if (swapped)
            {
                Log.Reconnected(logger, reason, fresh.Number);
                metrics?.Reconnected(reason);
                Reconnected?.Invoke(reason);
                onSwapped();
            }
            else
            {
                Log.ReconnectDeclined(logger, reason, served, servedBefore);
                ReconnectDeclined?.Invoke(reason);
            }
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or InvalidOperationException or ArgumentException or OperationCanceledException)
        {
            Log.ReconnectFailed(logger, reason, ex);
        }
        finally
        {
            // Before the close: a multiplexer slow to close must not hold off the next reconnect.
            Volatile.Write(ref _reconnecting, 0);
        }

        if (closing is not null)
        {
            await closing.ConfigureAwait(false);
            lock (_gate)
            {
                _closing.Remove(closing);
            }
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
        var probeTimeout = operationTimeout > MinimumProbeTimeout ? operationTimeout : MinimumProbeTimeout;
        var servedBefore = await SlotCoverage.MeasureAsync(stuck.Multiplexer, probeTimeout).ConfigureAwait(false);
        using var waited = new CancellationTokenSource(2 * MultiplexerConnector.ConnectTimeoutOf(fresh.Multiplexer));
        while (true)
        {
            var served = await SlotCoverage.MeasureAsync(fresh.Multiplexer, probeTimeout).ConfigureAwait(false);
            if (ServesEnough(served, servedBefore) || waited.IsCancellationRequested)
            {
                return (served, servedBefore);
            }

            await Task.Delay(CoverageRetryDelay, CancellationToken.None).ConfigureAwait(false);
        }
    }

    private static partial class Log
    {
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
