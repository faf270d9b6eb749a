using NodaTime;
using StackExchange.Redis;

namespace RateLimiting.Redis.Connection;

/// <summary>One call waiting in a <see cref="MasterQueue"/>: what it runs, when it started, and where its reply goes.</summary>
internal sealed class BatchMember(BatchableScript script, RedisKey[] keys, RedisValue[] args, Instant started)
{
    // Completed on the thread that read the batch's reply: each caller goes on by itself.
    private readonly TaskCompletionSource<long[]?> _reply = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private int _abandoned;

    public BatchableScript Script { get; } = script;

    public RedisKey[] Keys { get; } = keys;

    public RedisValue[] Args { get; } = args;

    public Instant Started { get; } = started;

    /// <summary>Gets its verdict; null when it is to be decided alone, by the single-request script.</summary>
    public Task<long[]?> Reply => _reply.Task;

    /// <summary>Gets a value indicating whether its caller stopped waiting (deadline or cancellation): a later batch leaves it out.</summary>
    public bool IsAbandoned => Volatile.Read(ref _abandoned) != 0;

    public void Abandon() => Volatile.Write(ref _abandoned, 1);

    public void Complete(long[] verdict) => _reply.TrySetResult(verdict);

    public void DecideAlone() => _reply.TrySetResult(null);

    public void Fail(Exception exception) => _reply.TrySetException(exception);
}
