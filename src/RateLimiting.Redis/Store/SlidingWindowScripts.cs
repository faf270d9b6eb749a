using RateLimiting.Redis.Connection;

namespace RateLimiting.Redis.Store;

/// <summary>
/// The sliding-window scripts as Redis runs them: sliding-window.lua's functions, followed by
/// decide-one.lua for one decision, by decide-batch.lua for a batch, whose keys are of many slots
/// of one node (Redis 7's allow-cross-slot-keys flag), by refund.lua to take an admission back, or
/// by usage.lua to read a partition's usage, or by override.lua to set its temporary limit; and
/// reset.lua, which clears a partition.
/// </summary>
internal static class SlidingWindowScripts
{
    /// <summary>The batch script's first line; Redis before 7.0 cannot compile it.</summary>
    public const string BatchShebang = "#!lua flags=allow-cross-slot-keys";

    /// <summary>A verdict: reason, reported window, cost used in it, retry after, reset after, admission, temporary limit.</summary>
    public const int VerdictWidth = 7;

    private static readonly string Functions = RedisScript.ReadResource("RateLimiting.Redis.sliding-window.lua");

    public static BatchableScript Decide { get; } = WithBatchShebang(BatchShebang);

    /// <summary>Never batched: refunds are rare (a later link of a chain rejected).</summary>
    public static BatchableScript Refund { get; } = new(new RedisScript(Functions + RedisScript.ReadResource("RateLimiting.Redis.refund.lua")), batch: null, replyWidth: 1);

    /// <summary>A partition's usage, read only: Redis refuses any write in it (the no-writes flag).</summary>
    public static BatchableScript Usage { get; } = new(new RedisScript("#!lua flags=no-writes\n" + Functions + RedisScript.ReadResource("RateLimiting.Redis.usage.lua")), batch: null, replyWidth: 0);

    /// <summary>Sets or clears a partition's temporary limit and tells every instance.</summary>
    public static BatchableScript Override { get; } = new(new RedisScript(Functions + RedisScript.ReadResource("RateLimiting.Redis.override.lua")), batch: null, replyWidth: 1);

    /// <summary>Clears a partition and tells every instance; rare, so never batched.</summary>
    public static BatchableScript Reset { get; } = new(new RedisScript(RedisScript.ReadResource("RateLimiting.Redis.reset.lua")), batch: null, replyWidth: 1);

    /// <summary>The scripts with another first line for the batch script: tests use a flag Redis does not know to see a server refuse batches.</summary>
    public static BatchableScript WithBatchShebang(string shebang) => new(
        new RedisScript(Functions + RedisScript.ReadResource("RateLimiting.Redis.decide-one.lua")),
        new RedisScript(shebang + "\n" + Functions + RedisScript.ReadResource("RateLimiting.Redis.decide-batch.lua")),
        VerdictWidth);
}
