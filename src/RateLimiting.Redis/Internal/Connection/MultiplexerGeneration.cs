using StackExchange.Redis;

namespace RateLimiting.Redis.Internal.Connection;

/// <summary>One multiplexer and the calls in flight on it, so that a replaced one is closed only once they have drained.</summary>
internal sealed class MultiplexerGeneration
{
    private static readonly TimeSpan CloseDeadline = TimeSpan.FromSeconds(5);

    private int _inFlight;

    public MultiplexerGeneration(int number, ConnectionMultiplexer multiplexer)
    {
        Number = number;
        Multiplexer = multiplexer;
    }

    public int Number { get; }

    public ConnectionMultiplexer Multiplexer { get; }

    public bool IsClosed { get; private set; }

    public int InFlight => Volatile.Read(ref _inFlight);

    public void Enter() => Interlocked.Increment(ref _inFlight);

    public void Exit() => Interlocked.Decrement(ref _inFlight);

    /// <summary>Waits for the calls in flight (each bounded by its own deadline), then closes.</summary>
    public async Task DrainAndCloseAsync(TimeSpan drainDeadline, TimeProvider time)
    {
        var started = time.GetTimestamp();
        while (InFlight > 0 && time.GetElapsedTime(started) < drainDeadline)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(10), time).ConfigureAwait(false);
        }

        IsClosed = true;
        try
        {
            // 1.2.6 gives it no deadline of its own.
            await Multiplexer.CloseAsync(allowCommandsToComplete: false).WaitAsync(CloseDeadline, time).ConfigureAwait(false);
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
}
