using System.Collections.Concurrent;
using System.Diagnostics;

namespace RateLimiting.Redis.Tests.Infrastructure;

/// <summary>
/// Concurrent callers deciding in a loop through a <see cref="ScenarioDecider"/>, as the request
/// threads of a busy application would, each recording every decision it gets. Caller k starts at
/// partition k and walks the list round-robin.
/// </summary>
internal sealed class DecisionLoad : IAsyncDisposable
{
    private static readonly TimeSpan LastDecisionDeadline = TimeSpan.FromMinutes(1);

    private readonly ScenarioDecider _decider;
    private readonly IReadOnlyList<string> _partitions;
    private readonly TimeSpan _pause;
    private readonly int _cost;
    private readonly ConcurrentQueue<DecisionRecord> _records = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task[] _callers;

    private DecisionLoad(ScenarioDecider decider, IReadOnlyList<string> partitions, int callers, TimeSpan pause, int cost)
    {
        _decider = decider;
        _partitions = partitions;
        _pause = pause;
        _cost = cost;
        _callers = [.. Enumerable.Range(0, callers).Select(caller => Task.Run(() => RunCallerAsync(caller)))];
    }

    /// <summary>How many decisions were recorded so far.</summary>
    public int Count => _records.Count;

    /// <summary>The decisions recorded so far, in completion order.</summary>
    public IReadOnlyList<DecisionRecord> Records => [.. _records];

    /// <param name="decider">Decides; its failure mode answers when the store cannot.</param>
    /// <param name="partitions">The partitions the callers walk.</param>
    /// <param name="callers">How many concurrent callers.</param>
    /// <param name="pause">Each caller's pause between two decisions: keeps a failing store's instant errors from spinning the 2 cores.</param>
    /// <param name="cost">The cost of every decision.</param>
    public static DecisionLoad Start(ScenarioDecider decider, IReadOnlyList<string> partitions, int callers, TimeSpan pause, int cost = 1)
        => new(decider, partitions, callers, pause, cost);

    /// <summary>Stops the callers, waits for their last decision, and returns every decision recorded.</summary>
    /// <exception cref="TimeoutException">A caller still waits for its decision a minute later: the decider does not answer in bounded time.</exception>
    public async Task<IReadOnlyList<DecisionRecord>> StopAsync()
    {
        await _stop.CancelAsync();
        await Task.WhenAll(_callers).WaitAsync(LastDecisionDeadline);
        return Records;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        _stop.Dispose();
    }

    private async Task RunCallerAsync(int caller)
    {
        for (var next = caller; !_stop.IsCancellationRequested; next++)
        {
            var partition = _partitions[next % _partitions.Count];
            var started = Stopwatch.GetTimestamp();
            try
            {
                // No cancellation token: a decision in flight when the load stops completes normally.
                var lease = await _decider.DecideAsync(partition, _cost, CancellationToken.None);
                _records.Enqueue(new DecisionRecord(partition, lease.Source, lease.IsAcquired, started, Stopwatch.GetElapsedTime(started), null));
            }
#pragma warning disable CA1031 // Recorded: a decider that throws is what the scenarios look for.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                _records.Enqueue(new DecisionRecord(partition, null, false, started, Stopwatch.GetElapsedTime(started), ex));
            }

            if (_pause > TimeSpan.Zero)
            {
                try
                {
                    await Task.Delay(_pause, _stop.Token);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
            else
            {
                await Task.Yield();
            }
        }
    }
}
