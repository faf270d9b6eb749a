using System.Collections.Concurrent;
using System.Net;
using Microsoft.Extensions.Logging;
using RateLimiting.Redis.Resilience;
using RateLimiting.Redis.Telemetry;
using StackExchange.Redis;

namespace RateLimiting.Redis.Connection;

/// <summary>
/// Per-master batching: a call with nothing in flight for its master is sent at once, alone, by
/// the single-request script; calls that arrive while one is in flight wait for it, and the next
/// call carries up to <see cref="MaxBatchSize"/> of them, in arrival order, in one execution of
/// the batch script on that master. A call the master did not serve (its slot moved, or is
/// migrating), a batch for a master the client is not connected to, or a batch the master refused
/// before running it, is decided alone by its caller.
/// </summary>
/// <remarks>
/// Each call keeps its own deadline: its caller waits for its verdict no longer than that, and a
/// batch leaves out the calls whose callers have stopped waiting. A batch is bounded by the
/// deadline of its newest call. A failed batch fails only its own calls.
/// </remarks>
internal sealed partial class CallBatcher
{
    /// <summary>
    /// The most calls in one batch. Measured with 96 and 256 async callers on one store over 3
    /// masters: a bound of 8, 16 and 32 raises decisions/s step by step; past 32 the figure moves
    /// within noise, and batches average about 35 calls even when 256 are allowed. 64 leaves room
    /// above that while a batch stays near 2 ms of script time here (about 30 µs per decision),
    /// which the master's other clients wait behind.
    /// </summary>
    public const int MaxBatchSize = 64;

    private readonly ConcurrentDictionary<(MasterBreaker Master, BatchableScript Script), MasterQueue> _queues = new();
    private readonly ScriptRunner _runner;
    private readonly Func<MultiplexerGeneration?> _current;
    private readonly Func<BatchMember, bool> _isLive;
    private readonly ILogger _logger;
    private readonly RedisMetrics? _metrics;
    private int _unsupported;
    private long _batches;
    private long _batchedDecisions;
    private long _decidedAlone;

    /// <param name="runner">Runs the scripts.</param>
    /// <param name="deadline">Tells which calls are past their deadline.</param>
    /// <param name="current">The multiplexer in use, which a batch is sent on.</param>
    /// <param name="logger">Logs the one time batching turns out to be unsupported.</param>
    /// <param name="metrics">Records the calls' sizes; none when <see langword="null"/>.</param>
    public CallBatcher(ScriptRunner runner, CallDeadline deadline, Func<MultiplexerGeneration?> current, ILogger logger, RedisMetrics? metrics)
    {
        _runner = runner;
        _current = current;
        _logger = logger;
        _metrics = metrics;
        _isLive = member => !member.IsAbandoned && deadline.Left(member.Started) > TimeSpan.Zero;
    }

    /// <summary>Gets a value indicating whether batches may be sent: false once a server refused the batch script's flags (Redis before 7).</summary>
    public bool IsSupported => Volatile.Read(ref _unsupported) == 0;

    /// <summary>Gets how many batch script executions were sent (calls of two decisions or more).</summary>
    public long Batches => Interlocked.Read(ref _batches);

    /// <summary>Gets how many decisions were sent in batches.</summary>
    public long BatchedDecisions => Interlocked.Read(ref _batchedDecisions);

    /// <summary>Gets how many decisions of a batch were handed back to be decided alone (not served there, refused, unsupported).</summary>
    public long DecidedAlone => Interlocked.Read(ref _decidedAlone);

    /// <summary>Queues <paramref name="member"/> for <paramref name="master"/>, sending it now when nothing is in flight there; its <see cref="BatchMember.Reply"/> says how it went.</summary>
    public void Enqueue(MasterBreaker master, MultiplexerGeneration generation, BatchMember member)
    {
        var queue = _queues.GetOrAdd((master, member.Script), static _ => new MasterQueue());
        if (queue.TryEnter(member))
        {
            _ = SendAllAsync(queue, master, generation, [member]);
        }
    }

    /// <summary>Each member's keys, the number of its arguments, then its arguments.</summary>
    private static object[] ArgumentsOf(List<BatchMember> batch)
    {
        var length = 2;
        foreach (var member in batch)
        {
            length += member.Keys.Length + 1 + member.Args.Length;
        }

        var args = new object[length];
        var next = 2;
        foreach (var member in batch)
        {
            foreach (var key in member.Keys)
            {
                args[next++] = (string)key!;
            }

            args[next++] = member.Args.Length;
            foreach (var arg in member.Args)
            {
                args[next++] = arg;
            }
        }

        return args;
    }

    private void DecideAlone(List<BatchMember> batch)
    {
        Interlocked.Add(ref _decidedAlone, batch.Count);
        foreach (var member in batch)
        {
            member.DecideAlone();
        }
    }

    private async Task SendAllAsync(MasterQueue queue, MasterBreaker master, MultiplexerGeneration generation, List<BatchMember> first)
    {
        for (var batch = first; batch is not null; batch = queue.Next(MaxBatchSize, _isLive))
        {
            await SendAsync(master, _current() ?? generation, batch).ConfigureAwait(false);
        }
    }

    /// <summary>Sends one call and completes its members; never throws, so that the queue always moves on.</summary>
    private async Task SendAsync(MasterBreaker master, MultiplexerGeneration generation, List<BatchMember> batch)
    {
        _metrics?.BatchSent(batch.Count);
        generation.Enter();
        try
        {
            if (batch.Count == 1)
            {
                var member = batch[0];
                member.Complete(await _runner.RunOnSlotAsync(generation, member.Script.One, member.Keys, member.Args, member.Started, CancellationToken.None).ConfigureAwait(false));
            }
            else if (master.EndPoint is { } node && IsSupported)
            {
                await SendBatchAsync(node, generation, batch).ConfigureAwait(false);
            }
            else
            {
                DecideAlone(batch);
            }
        }
        catch (Exception ex)
        {
            foreach (var member in batch)
            {
                member.Fail(ex);
            }
        }
        finally
        {
            generation.Exit();
        }
    }

    private async Task SendBatchAsync(EndPoint node, MultiplexerGeneration generation, List<BatchMember> batch)
    {
        var script = batch[0].Script;
        long[] reply;
        try
        {
            if (!generation.Multiplexer.GetServer(node).IsConnected)
            {
                // The client would hold a batch for a master it lost until the deadline, while the
                // slots may already be served elsewhere (the breaker map lags a moved slot): each
                // call is routed by its own slot instead, as the client currently sees it.
                DecideAlone(batch);
                return;
            }

            Interlocked.Increment(ref _batches);
            Interlocked.Add(ref _batchedDecisions, batch.Count);
            reply = await _runner.RunOnNodeAsync(generation, node, script.Batch!, ArgumentsOf(batch), batch[^1].Started).ConfigureAwait(false);
        }
        catch (RedisServerException ex) when (RedisErrorClassifier.IsScriptRejected(ex))
        {
            if (Interlocked.Exchange(ref _unsupported, 1) == 0)
            {
                Log.BatchingUnsupported(_logger, ex.Message);
            }

            DecideAlone(batch);
            return;
        }
        catch (Exception ex) when (ex is ArgumentException or NotSupportedException
            || (ex is RedisServerException server && RedisErrorClassifier.IsRefusedBeforeRunning(server)))
        {
            // The master left the client's view, or refused the batch without running it: nothing
            // was decided, and each call finds its own way.
            DecideAlone(batch);
            return;
        }

        if (reply.Length != batch.Count * script.ReplyWidth)
        {
            throw new RedisException($"Redis answered a batch of {batch.Count} decisions with {reply.Length} integers.");
        }

        for (var i = 0; i < batch.Count; i++)
        {
            var verdict = reply.AsSpan(i * script.ReplyWidth, script.ReplyWidth);
            if (verdict[0] == BatchableScript.NotServedHere)
            {
                Interlocked.Increment(ref _decidedAlone);
                batch[i].DecideAlone();
            }
            else
            {
                batch[i].Complete(verdict.ToArray());
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 12, EventName = "BatchingUnsupported", Level = LogLevel.Warning,
            Message = "Redis refused the batch script's flags ({Reply}): it is older than 7.0. Every decision is sent alone from now on.")]
        public static partial void BatchingUnsupported(ILogger logger, string reply);
    }
}
