using RateLimiting.Redis.Connection;

namespace RateLimiting.Redis.Store;

/// <summary>
/// The sliding-window decision as Redis runs it: sliding-window.lua's function, followed by
/// decide-one.lua for one decision, or by decide-batch.lua for a batch, whose keys are of many
/// slots of one node (Redis 7's allow-cross-slot-keys flag).
/// </summary>
internal static class SlidingWindowScripts
{
    /// <summary>The batch script's first line; Redis before 7.0 cannot compile it.</summary>
    public const string BatchShebang = "#!lua flags=allow-cross-slot-keys";

    /// <summary>Per decision in a batch: the entries and totals keys, the limit, the window, the cost and the time (empty for the server's).</summary>
    private const int MemberWidth = 6;

    private const int ReplyWidth = 4;

    public static BatchableScript Decide { get; } = WithBatchShebang(BatchShebang);

    /// <summary>The scripts with another first line for the batch script: tests use a flag Redis does not know to see a server refuse batches.</summary>
    public static BatchableScript WithBatchShebang(string shebang)
    {
        var decision = RedisScript.ReadResource("RateLimiting.Redis.sliding-window.lua");
        return new BatchableScript(
            new RedisScript(decision + RedisScript.ReadResource("RateLimiting.Redis.decide-one.lua")),
            new RedisScript(shebang + "\n" + decision + RedisScript.ReadResource("RateLimiting.Redis.decide-batch.lua")),
            MemberWidth,
            ReplyWidth);
    }
}
