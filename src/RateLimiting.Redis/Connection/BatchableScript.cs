namespace RateLimiting.Redis.Connection;

/// <summary>
/// A script that decides one request, and its batch form, which decides every request queued for
/// one master in one execution (<see cref="CallBatcher"/>).
/// </summary>
/// <param name="one">Runs on one slot: a request's keys are its KEYS, its arguments its ARGV.</param>
/// <param name="batch">
/// Runs on one node, with keys of many slots: its ARGV holds, for each request, its keys, the
/// number of its arguments, then its arguments; its reply holds <paramref name="replyWidth"/>
/// integers per request, of which the first is <see cref="NotServedHere"/> for a request the node
/// cannot decide (decided alone instead). Null for a script that is never batched.
/// </param>
/// <param name="replyWidth">How many integers each request's verdict has.</param>
internal sealed class BatchableScript(RedisScript one, RedisScript? batch, int replyWidth)
{
    /// <summary>The first integer of the verdict of a request whose keys the node did not serve: it read and wrote nothing.</summary>
    public const long NotServedHere = -1;

    public RedisScript One { get; } = one;

    public RedisScript? Batch { get; } = batch;

    public int ReplyWidth { get; } = replyWidth;
}
