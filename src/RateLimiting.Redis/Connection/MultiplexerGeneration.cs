using System.Diagnostics;
using System.Net;
using RateLimiting.Redis.Store;
using StackExchange.Redis;

namespace RateLimiting.Redis.Connection;

/// <summary>One multiplexer and the calls in flight on it, so that a replaced one is closed only once they have drained.</summary>
/// <param name="number">1 for the first multiplexer, counting up.</param>
/// <param name="multiplexer">The multiplexer.</param>
/// <param name="owned">Whether the store created it (and so closes it); a <see cref="RedisStoreOptions.ConnectionFactory"/>'s belongs to the application.</param>
internal sealed class MultiplexerGeneration(int number, IConnectionMultiplexer multiplexer, bool owned)
{
    private static readonly TimeSpan CloseDeadline = TimeSpan.FromSeconds(5);

    private int _inFlight;
    private Func<int, EndPoint, bool>? _isRoutedTo;

    public int Number { get; } = number;

    public IConnectionMultiplexer Multiplexer { get; } = multiplexer;

    /// <summary>Whether this multiplexer already sends a slot to the named endpoint (so that a MOVED naming it is a loop); one delegate, for the classifier on every fault.</summary>
    public Func<int, EndPoint, bool> IsRoutedTo => _isRoutedTo ??= RoutesSlotTo;

    public int InFlight => Volatile.Read(ref _inFlight);

    public void Enter() => Interlocked.Increment(ref _inFlight);

    public void Exit() => Interlocked.Decrement(ref _inFlight);

    /// <summary>Waits for the calls in flight (each bounded by its own deadline), then closes what the store owns.</summary>
    public async Task DrainAndCloseAsync(TimeSpan drainDeadline)
    {
        var drained = Stopwatch.StartNew();
        while (InFlight > 0 && drained.Elapsed < drainDeadline)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(10)).ConfigureAwait(false);
        }

        if (!owned)
        {
            return;
        }

        try
        {
            // The client bounds a close by nothing of ours.
            await Multiplexer.CloseAsync(allowCommandsToComplete: false).WaitAsync(CloseDeadline).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is RedisException or TimeoutException or ObjectDisposedException)
        {
            // A multiplexer that is stuck or never connected may not close cleanly; dispose it anyway.
        }
        finally
        {
            Multiplexer.Dispose();
        }
    }

    private bool RoutesSlotTo(int slot, EndPoint named)
    {
        try
        {
            var owner = Multiplexer.GetServer(named).ClusterConfiguration?.GetBySlot(slot)?.EndPoint;
            return owner is null || named.Equals(owner) || owner.ToString() == named.ToString();
        }
        catch (Exception ex) when (ex is RedisException or ArgumentException or NotSupportedException)
        {
            return true;
        }
    }
}
